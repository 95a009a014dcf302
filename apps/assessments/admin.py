from django.contrib import admin
from django.db import transaction

from apps.assessments import services
from apps.assessments.models import (
    Accommodation,
    Assessment,
    Assignment,
    Attempt,
    Choice,
    Question,
    ScoreBand,
)
from apps.core.admin import GuardedChangeListMixin


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


@admin.register(Attempt)
class AttemptAdmin(GuardedChangeListMixin, admin.ModelAdmin):
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
