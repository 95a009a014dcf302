"""Retention: a closed complaint is purged once its category's retention has run out since
closing, unless it is on legal hold. Purging removes what identifies people (the text, the
place, the contact, the triage output quoting the text, the text of every message, the files)
and keeps the reference, the dates, the classification and the audit trail. Open complaints
are never purged, however old: a report nobody worked on must not expire silently."""

from datetime import timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from apps.complaints.models import Complaint, ComplaintEvent
from apps.complaints.services.audit import event_record

REDACTED = "[removed after the retention period]"
# What a purge empties or replaces; the reference, dates and classification stay.
PURGED_FIELDS = {
    "description": REDACTED,
    "incident_place": REDACTED,
    "contact_sealed": "",
    "contact_email_index": "",
    "triage_summary": "",
    "triage_details": {},
}
SUPERVISOR_NOTICE = timedelta(days=30)


def retention_due(*, within: timedelta = timedelta(0), now=None) -> QuerySet[Complaint]:
    """Complaints due for purge by `now` + `within` (within=0: due now), each annotated with
    `purge_at`, soonest first: closed, past closed_at + its category's retention_days, not on
    legal hold, not purged yet, and a merged duplicate only once its primary was purged (an
    open or held primary keeps it). A category without retention keeps its complaints
    forever."""
    now = now or timezone.now()
    retention = ExpressionWrapper(
        F("category__retention_days") * timedelta(days=1), output_field=DurationField()
    )
    return (
        Complaint.objects.filter(
            status=Complaint.Status.CLOSED,
            legal_hold=False,
            purged_at__isnull=True,
            closed_at__isnull=False,
            category__retention_days__isnull=False,
        )
        # A duplicate's files are evidence of its primary's case: it goes after the primary.
        .filter(Q(duplicate_of__isnull=True) | Q(duplicate_of__purged_at__isnull=False))
        .annotate(purge_at=F("closed_at") + retention)
        .filter(purge_at__lte=now + within)
        .order_by("purge_at", "pk")
    )


def complaint_purge(*, complaint_id: int, now=None) -> bool:
    """Purge one complaint in its own transaction if it is still due once its row is locked
    (a hold set or a purge run meanwhile wins). The stored files are deleted after commit, so
    a rollback never leaves rows pointing at missing files. Returns whether it was purged."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
        if complaint is None or not retention_due(now=now).filter(pk=complaint_id).exists():
            return False
        files = list(complaint.attachments.values_list("file", flat=True))
        complaint.attachments.all().delete()
        for field, value in PURGED_FIELDS.items():
            setattr(complaint, field, value)
        complaint.purged_at = now
        complaint.save(update_fields=[*PURGED_FIELDS, "purged_at", "updated_at"])
        # Officers' notes and replies quote the report, and follow-ups are the complainant's
        # own words: their text goes too; who wrote what and when stays.
        messages = complaint.messages.update(body=REDACTED)
        event_record(
            complaint,
            ComplaintEvent.Action.PURGED,
            at=now,
            attachments=len(files),
            messages=messages,
            retention_days=complaint.category.retention_days,
        )
        transaction.on_commit(lambda: _files_delete(files))
    return True


def _files_delete(names) -> None:
    for name in names:
        default_storage.delete(name)


def complaint_legal_hold_set(*, complaint: Complaint, hold: bool, by) -> bool:
    """Set or lift a complaint's legal hold, audited, in the caller's transaction (the admin's
    change form holds one). Returns whether it changed."""
    with transaction.atomic():
        current = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if current.legal_hold == hold:
            return False
        current.legal_hold = complaint.legal_hold = hold
        current.save(update_fields=["legal_hold", "updated_at"])
        event_record(current, ComplaintEvent.Action.LEGAL_HOLD, by=by, hold=hold)
    return True
