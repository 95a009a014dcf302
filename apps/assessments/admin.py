from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.assessments import services
from apps.assessments.models import (
    Accommodation,
    Assessment,
    Assignment,
    Attempt,
    AttemptAdjustment,
    Choice,
    Question,
    ScoreBand,
)
from apps.core.admin import AppendOnlyAdmin, GuardedChangeListMixin
from apps.core.errors import application_error_message
from apps.core.exceptions import ApplicationError, Invalid
from apps.core.input import parse_int


class QuestionInline(admin.TabularInline):
    model = Question
    fields = ["position", "kind", "text", "category", "reverse_keyed", "points"]
    extra = 0
    ordering = ["position"]
    show_change_link = True


class ScoreBandInline(admin.TabularInline):
    model = ScoreBand
    extra = 0


class ChoiceInline(admin.TabularInline):
    model = Choice
    fields = ["position", "text", "points", "is_correct"]
    extra = 0
    ordering = ["position"]


class VersionedAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    """Any change through the admin bumps the assessment's version (cached content is keyed
    by it), in the same transaction as the change."""

    bump_on_add = True  # a new question changes its assessment; a new assessment does not

    def assessment_id_of(self, obj) -> int:
        return obj.assessment_id

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change or self.bump_on_add:
            services.assessment_bump_version(assessment_id=self.assessment_id_of(form.instance))

    def delete_model(self, request, obj):
        assessment_id = self.assessment_id_of(obj)
        with transaction.atomic():
            super().delete_model(request, obj)
            services.assessment_bump_version(assessment_id=assessment_id)


@admin.register(Assessment)
class AssessmentAdmin(VersionedAdmin):
    list_display = ["title", "kind", "version", "time_limit_minutes", "max_attempts", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["version"]
    inlines = [QuestionInline, ScoreBandInline]
    # "View on site" opens the teacher's view of every question (staff-only preview).
    view_on_site = True
    bump_on_add = False

    def assessment_id_of(self, obj) -> int:
        return obj.pk


@admin.register(Question)
class QuestionAdmin(VersionedAdmin):
    list_display = ["assessment", "position", "kind", "text", "category", "reverse_keyed"]
    list_filter = ["assessment", "kind", "category"]
    list_select_related = ["assessment"]
    search_fields = ["text"]
    ordering = ["assessment", "position"]
    inlines = [ChoiceInline]


class AccommodationInline(admin.TabularInline):
    model = Accommodation
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Assignment)
class AssignmentAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["assessment", "district", "batch", "opens_at", "closes_at"]
    list_filter = ["assessment", "district", "batch"]
    list_select_related = ["assessment", "district", "batch"]
    inlines = [AccommodationInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        # A new or changed accommodation applies to a running attempt at once.
        changed = [
            obj.user for obj in formset.new_objects + [o for o, _ in formset.changed_objects]
        ]
        changed += [obj.user for obj in formset.deleted_objects]
        for user in changed:
            services.attempt_deadline_refresh(assignment=form.instance, user=user)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(services.dashboard_invalidate)


class IncidentActionForm(ActionForm):
    """The action bar's fields for the incident actions (services/incidents.py)."""

    minutes = forms.CharField(label=_("extra minutes"), required=False, max_length=4)
    reason = forms.CharField(label=_("reason (the incident)"), required=False, max_length=500)


def _incident_input(request) -> tuple[int | None, str]:
    """The action bar's minutes (None when not a whole number in range: the service then
    says what it takes) and reason."""
    try:
        minutes = parse_int(
            request.POST.get("minutes", "").strip(),
            minimum=services.EXTRA_MINUTES_MIN,
            maximum=services.EXTRA_MINUTES_MAX,
        )
    except ValueError:
        minutes = None
    return minutes, request.POST.get("reason", "")


class AttemptAdjustmentInline(admin.TabularInline):
    model = AttemptAdjustment
    fields = ["created_at", "kind", "minutes", "old_deadline", "new_deadline", "by", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Attempt)
class AttemptAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    action_form = IncidentActionForm
    actions = ["give_extra_minutes", "reopen"]
    inlines = [AttemptAdjustmentInline]
    list_display = [
        "assessment",
        "user",
        "number",
        "status",
        "deadline",
        "auto_submitted",
        "percent",
    ]
    list_filter = ["status", "auto_submitted", "assessment"]
    list_select_related = ["assessment", "user"]
    search_fields = ["user__username", "user__employee_id"]
    show_full_result_count = False
    readonly_fields = [field.name for field in Attempt._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(
        description=_("Give extra minutes (running attempts; fill in the action bar)"),
        permissions=["change"],
    )
    def give_extra_minutes(self, request, queryset):
        minutes, reason = _incident_input(request)
        ids = list(queryset.values_list("pk", flat=True))
        try:
            adjustments = services.attempts_extend(
                attempt_ids=ids, minutes=minutes, reason=reason, by=request.user
            )
        except ApplicationError as error:
            application_error_message(request, error)
            return
        self.message_user(
            request,
            _("%(n)s of %(selected)s selected attempt(s) were running and got %(minutes)s extra "
              "minute(s).")
            % {"n": len(adjustments), "selected": len(ids), "minutes": minutes},
        )  # fmt: skip

    @admin.action(
        description=_("Re-open (submitted automatically during an incident)"),
        permissions=["change"],
    )
    def reopen(self, request, queryset):
        minutes, reason = _incident_input(request)
        reopened = 0
        for attempt in queryset.order_by("pk"):
            try:
                services.attempt_reopen(
                    attempt=attempt, minutes=minutes, reason=reason, by=request.user
                )
            except Invalid as error:  # the minutes or the reason: the same for every attempt
                application_error_message(request, error)
                return
            except ApplicationError as error:  # this attempt's refusal: the others still go
                application_error_message(request, error)
                continue
            reopened += 1
        if reopened:
            self.message_user(request, _("%(n)s attempt(s) re-opened.") % {"n": reopened})


@admin.register(AttemptAdjustment)
class AttemptAdjustmentAdmin(AppendOnlyAdmin):
    """The incident tools' audit rows: append-only."""

    list_display = [
        "created_at",
        "kind",
        "attempt",
        "minutes",
        "old_deadline",
        "new_deadline",
        "by",
    ]
    list_filter = ["kind", "attempt__assessment"]
    list_select_related = ["attempt__assessment", "attempt__user", "by"]
    search_fields = ["reason", "attempt__user__username"]
    readonly_fields = [field.name for field in AttemptAdjustment._meta.fields]
