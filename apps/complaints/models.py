"""Complaints: what the public files (Complaint, Attachment), how it is classified
(Category, Sector, Act, TriageRule, TriageJob, TriageOverride) and what officers do with it
(ComplaintMessage, ComplaintEvent: the append-only audit trail)."""

import re

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

# Officers search complaints by these (and by exact reference); each has a trigram index.
# Contact details are sealed (apps/complaints/vault.py): an email is found by its blind index.
TEXT_SEARCH_FIELDS = ("description",)
# A century: beyond it, closing date + retention soon passes the last date PostgreSQL holds.
RETENTION_DAYS_MAX = 36500


class Category(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    sla_days = models.PositiveSmallIntegerField(_("SLA (days)"), default=30)
    retention_days = models.PositiveIntegerField(
        _("retention (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(RETENTION_DAYS_MAX)],
        help_text=_("Days after closing until a complaint is purged; empty keeps it forever."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.CheckConstraint(
                condition=Q(retention_days__isnull=True) | Q(retention_days__gt=0),
                name="category_retention_positive",
            ),
            models.CheckConstraint(
                condition=Q(retention_days__lte=RETENTION_DAYS_MAX),
                name="category_retention_at_most_a_century",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Sector(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")

    def __str__(self) -> str:
        return self.name


class Act(models.Model):
    """One section of a statute, e.g. Prevention of Corruption Act, 1988, section 7."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("act"), max_length=150)
    section = models.CharField(_("section"), max_length=20)
    section_title = models.CharField(_("section title"), max_length=200)

    class Meta:
        ordering = ["title", "code"]
        verbose_name = _("act")
        verbose_name_plural = _("acts")

    def __str__(self) -> str:
        return f"{self.title} s. {self.section}"


class TriageRule(models.Model):
    """A keyword rule of the rule-based triage backend: kept as data, edited in the admin."""

    pattern = models.CharField(
        _("pattern"), max_length=200, help_text=_("A regular expression, matched case-blind.")
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="rules")
    sector = models.ForeignKey(
        Sector, on_delete=models.CASCADE, null=True, blank=True, related_name="rules"
    )
    act = models.ForeignKey(Act, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category", "pattern"]
        verbose_name = _("triage rule")
        verbose_name_plural = _("triage rules")
        constraints = [
            models.UniqueConstraint(fields=["pattern", "category"], name="triagerule_unique")
        ]

    def __str__(self) -> str:
        return f"/{self.pattern}/ -> {self.category}"

    def clean(self):
        try:
            re.compile(self.pattern)
        except re.error as error:
            raise ValidationError({"pattern": str(error)}) from None


class ReferenceCounter(models.Model):
    """The last reference number given out in a year: bumped inside the filing transaction,
    so a rolled-back filing gives its number back (a sequence would leave a gap)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Complaint(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        TRIAGING = "triaging", _("Triaging")
        TRIAGED = "triaged", _("Triaged")
        ASSIGNED = "assigned", _("Assigned")
        INVESTIGATING = "investigating", _("Investigating")
        AWAITING_INFO = "awaiting_info", _("Awaiting information")
        CLOSED = "closed", _("Closed")

    class Outcome(models.TextChoices):
        SUBSTANTIATED = "substantiated", _("Substantiated: action taken")
        UNSUBSTANTIATED = "unsubstantiated", _("Not substantiated")
        REFERRED = "referred", _("Referred to another authority")
        NO_JURISDICTION = "no_jurisdiction", _("Outside our jurisdiction")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        DUPLICATE = "duplicate", _("Duplicate: handled under another reference")

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    receipt_hash = models.CharField(max_length=100, editable=False)
    received_at = models.DateTimeField(_("received"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    description = models.TextField(_("description"))
    incident_date = models.DateField(_("incident date"), null=True, blank=True)
    incident_place = models.CharField(_("incident place"), max_length=200, blank=True)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    # The identity vault (vault.py): name, email and phone as one token sealed with a key
    # kept out of the database, and a keyed hash of the email for exact search.
    contact_sealed = models.TextField(_("contact (encrypted)"), blank=True, editable=False)
    contact_email_index = models.CharField(max_length=64, blank=True, editable=False)

    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.RECEIVED)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority, default=Priority.NORMAL
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_complaints",
        limit_choices_to={"is_staff": True},
        verbose_name=_("assigned to"),
        db_index=False,  # led by the complaint_assignee index
    )
    due_at = models.DateTimeField(_("due"))
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Retention (services/retention.py): a hold keeps a closed complaint past its category's
    # retention; purged_at is when its text, contact and files were removed.
    legal_hold = models.BooleanField(
        _("legal hold"),
        default=False,
        help_text=_("Keeps the complaint whole past its retention period."),
    )
    purged_at = models.DateTimeField(_("purged"), null=True, blank=True, editable=False)
    # The complainant's latest follow-up (services/follow_up.py) that the officer in charge has
    # not opened yet: the changelist's "new information" filter and column.
    new_info_at = models.DateTimeField(_("new information"), null=True, blank=True, editable=False)
    # Set by services/duplicates.py only, always to a complaint that is no duplicate itself.
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )

    # The classification officers work with: the AI's unless overridden (TriageOverride).
    # Each foreign key leads a (key, -received_at) index below, so no index of its own.
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        verbose_name=_("category"),
    )
    sector = models.ForeignKey(
        Sector,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        verbose_name=_("sector"),
    )
    act = models.ForeignKey(
        Act, on_delete=models.PROTECT, null=True, blank=True, db_index=False, verbose_name=_("act")
    )

    # What triage said, kept as it was.
    triage_summary = models.TextField(_("AI summary"), blank=True)
    triage_details = models.JSONField(_("AI 5W1H"), default=dict, blank=True)
    triage_confidence = models.FloatField(_("AI confidence"), null=True, blank=True)
    triage_backend = models.CharField(_("triage backend"), max_length=20, blank=True)
    triage_model = models.CharField(_("triage model"), max_length=100, blank=True)
    triage_prompt_version = models.CharField(_("prompt version"), max_length=20, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        permissions = [
            ("download_attachment", "Can download complaint attachments"),
            ("export_complaint", "Can export complaints as CSV"),
            ("requeue_triage", "Can requeue complaint triage"),
            ("view_dashboard", "Can view the complaints dashboard"),
            ("view_complainant_identity", "Can reveal complainants' contact details"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(duplicate_of=models.F("pk")), name="complaint_not_own_duplicate"
            )
        ]
        indexes = [
            models.Index(fields=["-received_at"], name="complaint_received"),
            models.Index(fields=["status", "-received_at"], name="complaint_status"),
            models.Index(fields=["category", "-received_at"], name="complaint_category"),
            models.Index(fields=["sector", "-received_at"], name="complaint_sector"),
            models.Index(fields=["act", "-received_at"], name="complaint_act"),
            models.Index(fields=["assigned_to", "-received_at"], name="complaint_assignee"),
            models.Index(fields=["priority", "-received_at"], name="complaint_priority"),
            models.Index(
                fields=["due_at"], name="complaint_open_due", condition=~Q(status="closed")
            ),
            models.Index(
                fields=["contact_email_index"],
                name="complaint_email_index",
                condition=~Q(contact_email_index=""),
            ),
            # The admin's search is `UPPER(reference) = UPPER(term)` OR-ed with
            # `UPPER(field) LIKE UPPER('%term%')` over the text fields: indexes on exactly
            # those expressions (a trigram one for each text field) turn a scan of every
            # complaint into bitmap index scans; one unindexed branch would undo them all.
            models.Index(Upper("reference"), name="complaint_reference_upper"),
            models.Index(
                fields=["-new_info_at"],
                name="complaint_new_info",
                condition=Q(new_info_at__isnull=False),
            ),
            *(
                GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"complaint_{field}_trgm")
                for field in TEXT_SEARCH_FIELDS
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    @property
    def public_status(self) -> str:
        """What the complainant sees on the status page."""
        if self.is_closed and self.outcome:
            return f"{PUBLIC_LABELS[self.status]}: {self.get_outcome_display()}"
        return str(PUBLIC_LABELS[self.status])


PUBLIC_LABELS = {
    Complaint.Status.RECEIVED: _("Received"),
    Complaint.Status.TRIAGING: _("Received: being classified"),
    Complaint.Status.TRIAGED: _("Under review"),
    Complaint.Status.ASSIGNED: _("Assigned to an officer"),
    Complaint.Status.INVESTIGATING: _("Under investigation"),
    Complaint.Status.AWAITING_INFO: _("Waiting for information from you"),
    Complaint.Status.CLOSED: _("Closed"),
}


class TriageJob(models.Model):
    """The durable record of a complaint's triage: the RQ job is enqueued after commit, and
    `manage.py requeue_triage` re-enqueues what a crash or a lost Redis left behind."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        RETRYING = "retrying", _("Retrying")
        DONE = "done", _("Done")
        MANUAL = "manual", _("Needs manual triage")
        FAILED = "failed", _("Failed")

    PENDING_STATES = (State.QUEUED, State.RUNNING, State.RETRYING)

    complaint = models.OneToOneField(Complaint, on_delete=models.CASCADE, related_name="triage_job")
    state = models.CharField(_("triage state"), max_length=10, choices=State, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    rq_job_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(_("reason / last error"), blank=True)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        indexes = [
            models.Index(fields=["state", "updated_at"], name="triagejob_state"),
        ]

    def __str__(self) -> str:
        return f"triage {self.complaint_id} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state in self.PENDING_STATES


class TriageOverride(models.Model):
    """An officer changed what triage decided: the original value is kept for accuracy."""

    class Field(models.TextChoices):
        CATEGORY = "category", _("Category")
        SECTOR = "sector", _("Sector")
        ACT = "act", _("Act")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="overrides")
    field = models.CharField(max_length=10, choices=Field)
    original = models.CharField(_("triage value"), max_length=40, blank=True)
    new = models.CharField(_("officer value"), max_length=40, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        verbose_name = _("triage override")
        verbose_name_plural = _("triage overrides")
        indexes = [models.Index(fields=["field", "at"], name="override_field")]

    def __str__(self) -> str:
        return f"{self.field}: {self.original or '-'} -> {self.new or '-'}"


class Attachment(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(max_length=200)  # a random name in the private storage
    original_name = models.CharField(_("file name"), max_length=150)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.original_name


class ComplaintMessage(models.Model):
    class Kind(models.TextChoices):
        PUBLIC_REPLY = "reply", _("Public reply")
        INTERNAL_NOTE = "note", _("Internal note")
        FOLLOW_UP = "followup", _("Complainant's follow-up")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=8, choices=Kind)
    body = models.TextField()
    # None for a follow-up: the complainant has no account.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["complaint", "kind"], name="message_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d}"


class ComplaintEvent(models.Model):
    """Append-only audit trail: who did what to which complaint, and when."""

    class Action(models.TextChoices):
        FILED = "filed", _("Filed")
        TRIAGED = "triaged", _("Triaged")
        TRIAGE_MANUAL = "triage_manual", _("Sent to manual triage")
        TRIAGE_FAILED = "triage_failed", _("Triage failed")
        TRIAGE_REQUEUED = "triage_requeued", _("Triage requeued")
        VIEWED = "viewed", _("Viewed")
        DOWNLOADED = "downloaded", _("Attachment downloaded")
        ASSIGNED = "assigned", _("Assigned")
        STATUS = "status", _("Status changed")
        PRIORITY = "priority", _("Priority changed")
        OVERRIDE = "override", _("Classification overridden")
        NOTE = "note", _("Internal note added")
        REPLY = "reply", _("Public reply sent")
        ESCALATED = "escalated", _("Escalated as overdue")
        EXPORTED = "exported", _("Exported")
        LEGAL_HOLD = "legal_hold", _("Legal hold changed")
        PURGED = "purged", _("Purged after retention")
        FOLLOW_UP = "follow_up", _("Complainant followed up")
        MERGED = "merged", _("Merged as a duplicate")
        DUPLICATE_ADDED = "duplicate_added", _("Duplicate merged in")
        CONTACT_REVEALED = "contact_revealed", _("Contact details revealed")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=Action)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")
        indexes = [models.Index(fields=["complaint", "-at"], name="event_complaint")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"
