from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import Batch, District, User
from apps.accounts.services import two_factor_reset
from apps.core.admin import GuardedChangeListMixin


@admin.register(District)
class DistrictAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Batch)
class BatchAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(User)
class UserAdmin(GuardedChangeListMixin, DjangoUserAdmin):
    list_display = ["username", "employee_id", "email", "role", "district", "batch", "is_active"]
    list_filter = ["role", "district", "batch", "is_staff", "is_active"]
    list_select_related = ["district", "batch"]
    search_fields = ["username", "employee_id", "email", "first_name", "last_name"]
    autocomplete_fields = ["district", "batch"]
    show_full_result_count = False
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Crowdproof"), {"fields": ("role", "employee_id", "district", "batch")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Crowdproof"), {"fields": ("role", "employee_id", "district", "batch")}),
    )
    actions = ["reset_two_factor"]

    def has_two_factor_reset_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(
        description=_("Reset two-factor login (lost phone: enrols again at next login)"),
        permissions=["two_factor_reset"],
    )
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            if two_factor_reset(user=user, by=request.user):
                # The user's history in the admin is its audit trail.
                self.log_change(request, user, [{"changed": {"fields": ["two-factor login"]}}])
        self.message_user(
            request,
            _("Two-factor login reset for %(n)s account(s): each enrols again at its next login.")
            % {"n": len(queryset)},
            messages.SUCCESS,
        )


# Django's own Group admin, guarded like ours (a bulk action on `_selected_action=abc` was
# a 500 there).
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(GuardedChangeListMixin, DjangoGroupAdmin):
    pass


# Devices are managed through the officers' own pages and the reset above: the plugins'
# admins would show the TOTP secrets and recovery codes.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)
