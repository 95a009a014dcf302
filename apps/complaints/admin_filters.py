"""The complaint changelist's own filters (apps.complaints.admin)."""

from django.utils.translation import gettext_lazy as _

from apps.complaints import selectors, services
from apps.complaints.models import TriageJob
from apps.core.admin import OfferedChoicesListFilter


class TriageStateFilter(OfferedChoicesListFilter):
    title = _("triage state")
    parameter_name = "triage"

    def lookups(self, request, model_admin):
        return TriageJob.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(triage_job__state=self.value()) if self.value() else queryset


class OverdueFilter(OfferedChoicesListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("On time"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.overdue_q())
        if self.value() == "no":
            return queryset.exclude(selectors.overdue_q())
        return queryset


class AssignedOfficerFilter(OfferedChoicesListFilter):
    title = _("assigned officer")
    parameter_name = "officer"

    def lookups(self, request, model_admin):
        return [("none", _("Unassigned")), *((str(u.pk), u.username) for u in selectors.officers())]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(assigned_to__isnull=True)
        return queryset.filter(assigned_to_id=self.value()) if self.value() else queryset


class NewInformationFilter(OfferedChoicesListFilter):
    """The complainant followed up (a closed complaint was reopened by it) and the officer in
    charge has not opened it since: served by the partial index complaint_new_info."""

    title = _("new information")
    parameter_name = "new_info"

    def lookups(self, request, model_admin):
        return [("yes", _("From the complainant, not yet seen"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(new_info_at__isnull=False)


class PurgeDueFilter(OfferedChoicesListFilter):
    """The supervisors' list of closed complaints the retention purge will take soon: time to
    set a legal hold on any that must be kept."""

    title = _("retention")
    parameter_name = "purge"

    def lookups(self, request, model_admin):
        return [("30", _("Purge due within 30 days"))]

    def queryset(self, request, queryset):
        if self.value() != "30":
            return queryset
        due = services.retention_due(within=services.SUPERVISOR_NOTICE)
        return queryset.filter(pk__in=due.values("pk"))
