"""Officers work complaints here. Every write goes through apps.complaints.services, so the
admin, the commands and the jobs share one set of rules and one audit trail."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.complaints import selectors, services, vault
from apps.complaints.admin_filters import (
    AssignedOfficerFilter,
    NewInformationFilter,
    OverdueFilter,
    PurgeDueFilter,
    TriageStateFilter,
)
from apps.complaints.forms import EDITABLE, ComplaintAdminForm, MergeForm, StatusActionForm
from apps.complaints.models import (
    TEXT_SEARCH_FIELDS,
    Act,
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    Sector,
    TriageOverride,
    TriageRule,
)
from apps.core.admin import AppendOnlyAdmin, GuardedChangeListMixin
from apps.core.csv_safe import csv_writer
from apps.core.errors import application_error_message
from apps.core.exceptions import ApplicationError

ERR_ACTION_STATUS = _("Choose a status in the action bar first.")
CONTACT_WITHHELD = {"contact": "contact_withheld"}


class _Echo:
    """A file-like object whose write returns the line: csv.writer into a stream."""

    def write(self, value):
        return value


@admin.register(Complaint)
class ComplaintAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    form = ComplaintAdminForm
    action_form = StatusActionForm
    list_display = [
        "reference",
        "received_at",
        "status",
        "priority",
        "category",
        "sector",
        "act",
        "triage_state",
        "assigned_to",
        "due",
        "new_info",
    ]
    list_filter = [
        NewInformationFilter,
        "status",
        TriageStateFilter,
        "category",
        "sector",
        "act",
        AssignedOfficerFilter,
        OverdueFilter,
        PurgeDueFilter,
        "legal_hold",
        "priority",
        "received_at",
    ]
    list_select_related = ["category", "sector", "act", "assigned_to", "triage_job"]
    search_fields = ["=reference", *TEXT_SEARCH_FIELDS]
    search_help_text = _(
        "A reference, words of the complaint, or a complainant's whole email address "
        "(found exactly, never shown here)."
    )
    date_hierarchy = "received_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would scan 100,000 rows per filter
    list_per_page = 50
    autocomplete_fields = ["assigned_to"]
    actions = ["assign_to_me", "set_status", "mark_duplicate", "requeue_triage", "export_csv"]
    change_form_template = "admin/complaints/complaint/change_form.html"
    readonly_fields = [
        "reference",
        "received_at",
        "due",
        "escalated_at",
        "closed_at",
        "purged_at",
        "description",
        "incident_date",
        "incident_place",
        "contact",
        "contact_withheld",
        "attachment_links",
        "triage_result",
        "follow_ups",
        "public_replies",
        "internal_notes",
        "audit_trail",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "received_at", "due", "escalated_at", "closed_at"]}),
        (
            _("Complaint"),
            {
                "fields": [
                    "description",
                    "incident_date",
                    "incident_place",
                    "contact",
                    "attachment_links",
                ]
            },
        ),
        (_("Triage"), {"fields": ["triage_result", "category", "sector", "act"]}),
        (_("Work"), {"fields": ["status", "outcome", "priority", "assigned_to"]}),
        (
            _("Messages"),
            {"fields": ["follow_ups", "public_replies", "reply", "internal_notes", "note"]},
        ),
        (_("Retention"), {"fields": ["legal_hold", "purged_at"]}),
        (_("Audit trail"), {"fields": ["audit_trail"], "classes": ["collapse"]}),
    ]

    class Media:
        css = {"all": ["complaints/complaints.css"]}

    def has_add_permission(self, request):
        return False  # complaints come from the public form

    def has_requeue_triage_permission(self, request):
        return request.user.has_perm("complaints.requeue_triage")

    def has_export_permission(self, request):
        return request.user.has_perm("complaints.export_complaint")

    # --- columns and read-only fields ---

    @admin.display(description=_("triage"), ordering="triage_job__state")
    def triage_state(self, obj):
        job = getattr(obj, "triage_job", None)
        return job.get_state_display() if job else "-"

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, obj):
        overdue = not obj.is_closed and obj.due_at < timezone.now()
        css = "complaint-overdue" if overdue else "complaint-due"
        label = _("overdue") if overdue else ""
        return format_html('<span class="{}">{} {}</span>', css, obj.due_at.date(), label)

    @admin.display(description=_("contact"))
    def contact(self, obj):
        """Sealed (apps/complaints/vault.py): opened only by the audited reveal page."""
        if obj.anonymous or not obj.contact_sealed:
            return _("Anonymous") if obj.anonymous else "-"
        return format_html(
            '<a class="button" href="{}">{}</a> <span class="help">{}</span>',
            reverse("admin:complaints_complaint_contact", args=[obj.pk]),
            _("Reveal contact details"),
            _("Encrypted; every reveal is recorded in the audit trail."),
        )

    @admin.display(description=_("contact"))
    def contact_withheld(self, obj):
        if obj.anonymous or not obj.contact_sealed:
            return _("Anonymous") if obj.anonymous else "-"
        return services.ERR_REVEAL_NOT_ALLOWED

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm(services.REVEAL_PERMISSION):
            return fieldsets
        return [  # without the permission, no reveal button: it would only answer 403
            (name, {**options, "fields": [CONTACT_WITHHELD.get(f, f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    def get_search_results(self, request, queryset, search_term):
        """The reference and the text as Django searches them, or an exact email through its
        blind index (indexed): nothing is decrypted to search."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        candidates = vault.email_index_candidates(search_term) if "@" in search_term else []
        if candidates:
            found |= queryset.filter(contact_email_index__in=candidates)
        return found, may_have_duplicates

    def contact_view(self, request, object_id):
        """The reveal page: GET says what a reveal means, POST opens this one contact and
        audits it. Without the permission nothing is opened: 403 with the reason."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        complaint = self.get_object(request, unquote(object_id))
        if complaint is None or not self.has_view_permission(request, complaint):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "complaint": complaint,
            "title": _("Contact details of %(reference)s") % {"reference": complaint.reference},
        }
        status = 200
        if not request.user.has_perm(services.REVEAL_PERMISSION):
            context["refusal"], status = services.ERR_REVEAL_NOT_ALLOWED, 403
        elif request.method == "POST":
            try:
                context["contact"] = services.complaint_contact_reveal(
                    complaint=complaint, by=request.user
                )
            except ApplicationError as error:
                context["refusal"], status = error.message, 409
        template = "admin/complaints/complaint/contact.html"
        return TemplateResponse(request, template, context, status=status)

    @admin.display(description=_("attachments"))
    def attachment_links(self, obj):
        rows = [
            (
                reverse("complaints:attachment-download", args=[a.pk]),
                a.original_name,
                a.content_type,
                a.size,
                a.sha256[:12],
                ""
                if a.own == 0
                else _("from duplicate %(reference)s") % {"reference": a.from_reference},
            )
            # With the attachments of the complaints merged into this one (not copied).
            for a in selectors.complaint_attachments(complaint=obj)
        ]
        if not rows:
            return "-"
        return format_html_join(
            "", '<p><a href="{}">{}</a> ({}, {} bytes, sha256 {}…) {}</p>', rows
        )

    @admin.display(description=_("AI triage"))
    def triage_result(self, obj):
        job = getattr(obj, "triage_job", None)
        if job is None:
            return "-"
        details = format_html_join(
            "",
            "<li><b>{}</b>: {} <i>«{}»</i></li>",
            ((k, v.get("value", ""), v.get("source", "")) for k, v in obj.triage_details.items()),
        )
        return format_html(
            "<p>{} {}</p><p>{} / {} / {} · {} {} · {}</p><p>{}</p><ul>{}</ul>",
            job.get_state_display(),
            job.reason,
            obj.triage_backend or "-",
            obj.triage_model or "-",
            obj.triage_prompt_version or "-",
            _("confidence"),
            obj.triage_confidence if obj.triage_confidence is not None else "-",
            _("attempts: %(n)s") % {"n": job.attempts},
            obj.triage_summary,
            details,
        )

    def _messages(self, obj, kind):
        rows = (
            (m.created_at.strftime("%Y-%m-%d %H:%M"), m.author or _("complainant"), m.body)
            for m in obj.messages.filter(kind=kind).select_related("author")
        )
        return format_html_join("", "<p><b>{} {}</b>: {}</p>", rows) or "-"

    @admin.display(description=_("new information"), boolean=True, ordering="-new_info_at")
    def new_info(self, obj):
        return obj.new_info_at is not None

    @admin.display(description=_("complainant's follow-ups"))
    def follow_ups(self, obj):
        return self._messages(obj, ComplaintMessage.Kind.FOLLOW_UP)

    @admin.display(description=_("public replies"))
    def public_replies(self, obj):
        return self._messages(obj, ComplaintMessage.Kind.PUBLIC_REPLY)

    @admin.display(description=_("internal notes"))
    def internal_notes(self, obj):
        return self._messages(obj, ComplaintMessage.Kind.INTERNAL_NOTE)

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj):
        rows = (
            (
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor or _("system"),
                e.get_action_display(),
                e.detail or "",
            )
            for e in obj.events.select_related("actor")[:200]
        )
        return format_html_join("", "<p>{} · {} · {} {}</p>", rows) or "-"

    # --- views ---

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            complaint = self.get_object(request, object_id)
            if complaint is not None and self.has_view_permission(request, complaint):
                services.complaint_view_record(complaint=complaint, by=request.user)
                extra_context = {
                    **(extra_context or {}),
                    **selectors.complaint_duplicates_panel(complaint=complaint),
                    "merge_form": MergeForm(),
                    "can_merge": not complaint.is_closed
                    and self.has_change_permission(request, complaint),
                }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        merge = path(
            "<path:object_id>/merge/",
            self.admin_site.admin_view(self.merge_view),
            name="complaints_complaint_merge",
        )
        contact = path(
            "<path:object_id>/contact/",
            self.admin_site.admin_view(self.contact_view),
            name="complaints_complaint_contact",
        )
        return [merge, contact, *super().get_urls()]

    def merge_view(self, request, object_id):
        """The change page's "mark as duplicate" form: POST the primary's reference."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        complaint = self.get_object(request, unquote(object_id))
        if complaint is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, complaint):
            raise PermissionDenied
        back = reverse("admin:complaints_complaint_change", args=[complaint.pk])
        form = MergeForm(request.POST)
        if not form.is_valid():
            for error in form.errors.get("primary", []):
                self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(back)
        primary = form.cleaned_data["primary"]
        try:
            services.complaint_merge(duplicate=complaint, primary=primary, officer=request.user)
        except ApplicationError as error:
            application_error_message(request, error)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            _("%(duplicate)s is now a duplicate of %(primary)s: the case carries on there.")
            % {"duplicate": complaint.reference, "primary": primary.reference},
        )
        return HttpResponseRedirect(reverse("admin:complaints_complaint_change", args=[primary.pk]))

    def save_model(self, request, obj, form, change):
        services.complaint_update(
            complaint=obj,
            by=request.user,
            changes={
                name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE
            },
            note=form.cleaned_data.get("note", ""),
            reply=form.cleaned_data.get("reply", ""),
        )
        if "legal_hold" in form.changed_data:
            services.complaint_legal_hold_set(
                complaint=obj, hold=form.cleaned_data["legal_hold"], by=request.user
            )

    # --- bulk actions ---

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        changed = services.complaint_assign(
            complaint_ids=queryset.values_list("pk", flat=True),
            officer=request.user,
            by=request.user,
        )
        self.message_user(request, _("%(n)s complaint(s) assigned to you.") % {"n": changed})

    @admin.action(description=_("Set status (choose it in the action bar)"), permissions=["change"])
    def set_status(self, request, queryset):
        status, outcome = request.POST.get("status", ""), request.POST.get("outcome", "")
        if status not in Complaint.Status.values:
            self.message_user(request, ERR_ACTION_STATUS, messages.ERROR)
            return
        try:
            changed = services.complaint_set_status(
                complaint_ids=queryset.values_list("pk", flat=True),
                status=status,
                outcome=outcome if outcome in Complaint.Outcome.values else "",
                by=request.user,
            )
        except ApplicationError as error:
            application_error_message(request, error)
            return
        self.message_user(request, _("%(n)s complaint(s) updated.") % {"n": changed})

    @admin.action(
        description=_("Mark as duplicate of… (type the primary's reference in the action bar)"),
        permissions=["change"],
    )
    def mark_duplicate(self, request, queryset):
        form = MergeForm({"primary": request.POST.get("primary", "")})
        if not form.is_valid():
            for error in form.errors["primary"]:
                self.message_user(request, error, messages.ERROR)
            return
        primary = form.cleaned_data["primary"]
        try:
            merged = services.complaint_merge_many(
                duplicate_ids=queryset.values_list("pk", flat=True),
                primary=primary,
                officer=request.user,
            )
        except ApplicationError as error:
            application_error_message(request, error)
            return
        self.message_user(
            request,
            _("%(n)s complaint(s) marked as duplicates of %(primary)s.")
            % {"n": merged, "primary": primary.reference},
        )

    @admin.action(description=_("Requeue triage"), permissions=["requeue_triage"])
    def requeue_triage(self, request, queryset):
        requeued = services.triage_requeue(
            complaint_ids=queryset.values_list("pk", flat=True), by=request.user
        )
        self.message_user(
            request, _("Triage requeued for %(n)s complaint(s).") % {"n": len(requeued)}
        )

    @admin.action(description=_("Export selected as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        services.complaint_export_record(complaint_ids=ids, by=request.user)
        writer = csv_writer(_Echo())
        rows = selectors.complaint_export_rows(queryset=Complaint.objects.filter(pk__in=ids))
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="complaints-{stamp}.csv"'
        return response


@admin.register(ComplaintEvent)
class ComplaintEventAdmin(AppendOnlyAdmin):
    list_display = ["at", "complaint", "action", "actor"]
    list_filter = ["action", "at"]
    list_select_related = ["complaint", "actor"]
    search_fields = ["=complaint__reference"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(TriageOverride)
class TriageOverrideAdmin(AppendOnlyAdmin):
    list_display = ["at", "complaint", "field", "original", "new", "backend", "by"]
    list_filter = ["field", "backend"]
    list_select_related = ["complaint", "by"]
    change_list_template = "admin/complaints/triageoverride/change_list.html"
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "accuracy": selectors.triage_accuracy()}
        return super().changelist_view(request, extra_context)


@admin.register(Category)
class CategoryAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["name", "code", "sla_days", "retention_days"]
    search_fields = ["name", "code"]


@admin.register(Sector)
class SectorAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(Act)
class ActAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["title", "section", "section_title", "code"]
    search_fields = ["title", "section", "section_title", "code"]


@admin.register(TriageRule)
class TriageRuleAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ["pattern", "category", "sector", "act", "weight", "is_active"]
    list_filter = ["is_active", "category"]
    list_select_related = ["category", "sector", "act"]
    search_fields = ["pattern"]
