from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Batch, District, User
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


# Django's own Group admin, guarded like ours (a bulk action on `_selected_action=abc` was
# a 500 there).
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(GuardedChangeListMixin, DjangoGroupAdmin):
    pass
