"""Filing a complaint: its reference, its receipt, its attachments and its triage job."""

from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from apps.complaints.models import (
    Attachment,
    Complaint,
    ComplaintEvent,
    ReferenceCounter,
    TriageJob,
)
from apps.complaints.receipts import receipt_hash, receipt_new
from apps.complaints.services.attachments import StoredFile, attachment_store
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.complaints.services.deadlines import due_at_for
from apps.complaints.services.triage_jobs import triage_enqueue

ERR_REFERENCE_OUTSIDE_TRANSACTION = "reference_block must run inside the filing transaction."


@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    receipt: str  # shown once, never stored


def reference_format(year: int, number: int) -> str:
    return f"CP-{year}-{number:06d}"


def reference_block(*, year: int, count: int = 1) -> int:
    """Take `count` consecutive numbers of the year in the caller's transaction; returns the
    first. The counter row stays locked until commit, so concurrent filings get consecutive
    numbers and a rollback gives its numbers back (a sequence would leave a gap)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(ERR_REFERENCE_OUTSIDE_TRANSACTION)
    table = ReferenceCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number) VALUES (%s, %s) "
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + %s "
            "RETURNING last_number",
            [year, count, count],
        )
        (last,) = cursor.fetchone()
    return last - count + 1


def complaint_file(
    *,
    description: str,
    incident_date=None,
    incident_place: str = "",
    anonymous: bool = False,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    uploads=(),
) -> Filed:
    """Store the files, then in one transaction: the reference, the complaint, its
    attachments, the TriageJob and the audit event; the triage job is enqueued on commit.
    If anything fails, the files already written are deleted: no orphans."""
    stored: list[StoredFile] = []
    try:
        for upload in uploads:
            stored.append(attachment_store(upload))
        with transaction.atomic(durable=True):
            now = timezone.now()
            year = timezone.localdate(now).year
            receipt = receipt_new()
            complaint = Complaint.objects.create(
                reference=reference_format(year, reference_block(year=year)),
                receipt_hash=receipt_hash(receipt),
                received_at=now,
                due_at=due_at_for(now, None),
                description=description,
                incident_date=incident_date,
                incident_place=incident_place,
                anonymous=anonymous,
                contact_name="" if anonymous else contact_name,
                contact_email="" if anonymous else contact_email,
                contact_phone="" if anonymous else contact_phone,
            )
            Attachment.objects.bulk_create(
                Attachment(
                    complaint=complaint,
                    file=f.name,
                    original_name=f.original_name,
                    content_type=f.content_type,
                    size=f.size,
                    sha256=f.sha256,
                    uploaded_at=now,
                )
                for f in stored
            )
            triage_enqueue(TriageJob(complaint=complaint))
            event_record(complaint, ComplaintEvent.Action.FILED, attachments=len(stored))
            dashboard_invalidate_on_commit()
    except BaseException:
        for f in stored:
            default_storage.delete(f.name)
        raise
    return Filed(complaint=complaint, receipt=receipt)
