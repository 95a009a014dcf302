"""Admin building blocks shared by the apps."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.input import BIGINT_MAX, parse_int
from apps.core.models import ServiceOutage

ERR_SELECTED_IDS = _(
    "The selection holds something that is not a row of this list: nothing was done."
)


class OfferedChoicesListFilter(admin.SimpleListFilter):
    """A list filter whose value is one of the choices it offers, or None. A value typed into
    the address (`?officer=abc`, `?triage=zzz`) is ignored, so `queryset()` never sees
    anything it would have to convert or that PostgreSQL would refuse (a 500)."""

    def value(self):
        value = super().value()
        offered = {str(lookup) for lookup, _title in self.lookup_choices}
        return value if value is not None and str(value) in offered else None


class GuardedChangeList(ChangeList):
    """Django's date drill-down converts `<field>__year/month/day` with int() and datetime()
    and catches only ValueError: a year of 25 digits (OverflowError) or 9999 (the year after
    is out of range) was a 500. Each part must be ASCII digits within its range; anything else
    is Django's "incorrect lookup" (a redirect to the unfiltered list)."""

    DATE_PARTS = (("year", 1, 9998), ("month", 1, 12), ("day", 1, 31))

    def get_filters(self, request):
        if self.date_hierarchy:
            for part, low, high in self.DATE_PARTS:
                for value in self.filter_params.get(f"{self.date_hierarchy}__{part}", []):
                    try:
                        parse_int(value, minimum=low, maximum=high)
                    except ValueError as error:
                        raise IncorrectLookupParameters(error) from error
        return super().get_filters(request)


class GuardedChangeListMixin:
    """For a ModelAdmin: the guarded date drill-down, and bulk actions whose selected ids
    (`_selected_action`, integer keys) must be ASCII whole numbers: Django filters by them
    unchecked, and `_selected_action=abc` was a 500 when the action ran its query."""

    def get_changelist(self, request, **kwargs):
        return GuardedChangeList

    def response_action(self, request, queryset):
        if isinstance(self.model._meta.pk, models.IntegerField):  # AutoField and BigAutoField
            try:
                for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                    parse_int(value, minimum=1, maximum=BIGINT_MAX)
            except ValueError:
                self.message_user(request, ERR_SELECTED_IDS, messages.ERROR)
                return None  # Django answers a failed action with the list again
        return super().response_action(request, queryset)


class AppendOnlyAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    """Audit records: listed and read, never added, edited or deleted in the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceOutage)
class ServiceOutageAdmin(AppendOnlyAdmin):
    """The outages the web heartbeat recorded (apps/core/heartbeat.py) and how many attempts
    the recovery sweep credited for each (apps/assessments/services/outages.py)."""

    list_display = ["started_at", "ended_at", "credited_at", "attempts_credited"]
    date_hierarchy = "started_at"
    readonly_fields = [field.name for field in ServiceOutage._meta.fields]
