"""The audit trail: every change and every look at a complaint is a ComplaintEvent."""

from django.db import transaction
from django.utils import timezone

from apps.complaints.models import Attachment, Complaint, ComplaintEvent


def event_record(
    complaint: Complaint, action: str, *, by=None, at=None, **detail
) -> ComplaintEvent:
    """One audit event, in the caller's transaction; `at` is now unless the caller's change
    has its own time (a closing's closed_at)."""
    return ComplaintEvent.objects.create(
        complaint=complaint, action=action, actor=by, detail=detail, at=at or timezone.now()
    )


def complaint_view_record(*, complaint: Complaint, by) -> None:
    """An officer opened the complaint. If it is theirs (or nobody's), they have now seen the
    complainant's new information: it leaves the "new information" list."""
    with transaction.atomic(durable=True):
        event_record(complaint, ComplaintEvent.Action.VIEWED, by=by)
        if complaint.new_info_at and complaint.assigned_to_id in (None, by.pk):
            Complaint.objects.filter(pk=complaint.pk).update(new_info_at=None)


def attachment_download_record(*, attachment: Attachment, by) -> None:
    with transaction.atomic(durable=True):
        event_record(
            attachment.complaint,
            ComplaintEvent.Action.DOWNLOADED,
            by=by,
            attachment=attachment.pk,
            name=attachment.original_name,
        )


def complaint_export_record(*, complaint_ids, by) -> None:
    with transaction.atomic(durable=True):
        now = timezone.now()
        ComplaintEvent.objects.bulk_create(
            ComplaintEvent(complaint_id=pk, action=ComplaintEvent.Action.EXPORTED, actor=by, at=now)
            for pk in complaint_ids
        )
