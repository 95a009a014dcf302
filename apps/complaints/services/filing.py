"""Filing a complaint: what it must hold, its reference, its receipt, its attachments and its
triage job."""

from dataclasses import dataclass
from datetime import date
from typing import Required, TypedDict, Unpack

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Complaint, ComplaintEvent, ReferenceCounter, TriageJob
from apps.complaints.receipts import receipt_hash, receipt_new
from apps.complaints.services.attachments import (
    CheckedUpload,
    attachments_check,
    attachments_record,
    attachments_stored,
)
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.complaints.services.deadlines import due_at_for
from apps.complaints.services.triage_jobs import triage_enqueue
from apps.complaints.vault import Contact, contact_columns
from apps.core.db import require_transaction
from apps.core.exceptions import Invalid

ERR_REFERENCE_OUTSIDE_TRANSACTION = "reference_block must run inside the filing transaction."
ERR_CONTACT_OR_ANONYMOUS = _("Give a way to contact you, or tick “File anonymously”.")


class Filing(TypedDict, total=False):
    """What a complainant tells: complaint_file's keywords, the public form's fields (and
    the Complaint columns they fill; the contact ones sealed by the vault), listed here only."""

    description: Required[str]
    incident_date: date | None
    incident_place: str
    anonymous: bool
    contact_name: str
    contact_email: str
    contact_phone: str


FILING_FIELDS = tuple(Filing.__annotations__)
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")


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
    require_transaction(ERR_REFERENCE_OUTSIDE_TRANSACTION)
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


def complaint_file(*, uploads=(), **filing: Unpack[Filing]) -> Filed:
    """Check what is filed (Invalid, with a message per field, whoever calls), store the
    files, then in one transaction: the reference, the complaint, its attachments, the
    TriageJob and the audit event; the triage job is enqueued on commit. If anything fails,
    the files already written are deleted: no orphans."""
    unknown = filing.keys() - set(FILING_FIELDS)
    if unknown:
        raise TypeError(f"complaint_file() got unexpected keyword arguments {sorted(unknown)}")
    checked = filing_check(uploads=uploads, **filing)
    if filing.get("anonymous"):
        filing.update(dict.fromkeys(CONTACT_FIELDS, ""))  # an anonymous complaint keeps none
    # Sealed before the transaction: only the token and the email's blind index are stored.
    contact = contact_columns(Contact(*(filing.pop(name, "") for name in CONTACT_FIELDS)))
    with attachments_stored(checked) as stored, transaction.atomic(durable=True):
        now = timezone.now()
        year = timezone.localdate(now).year
        receipt = receipt_new()
        complaint = Complaint.objects.create(
            reference=reference_format(year, reference_block(year=year)),
            receipt_hash=receipt_hash(receipt),
            received_at=now,
            due_at=due_at_for(now, None),
            **filing,
            **contact,
        )
        attachments_record(complaint, stored, now)
        triage_enqueue(TriageJob(complaint=complaint))
        event_record(complaint, ComplaintEvent.Action.FILED, attachments=len(stored))
        dashboard_invalidate_on_commit()
    return Filed(complaint=complaint, receipt=receipt)


def filing_check(*, uploads=(), **filing: Unpack[Filing]) -> list[CheckedUpload]:
    """Every rule of a filing at once (Invalid, a message per field), so the complainant can
    fix everything in one go; the checked uploads, each read once. complaint_file calls it;
    a form whose own checks failed may too, to show these problems in the same answer."""
    errors = {}
    if not filing.get("anonymous") and not any(filing.get(name) for name in CONTACT_FIELDS):
        errors[None] = [ERR_CONTACT_OR_ANONYMOUS]
    try:
        checked = attachments_check(uploads)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors=errors)
    return checked
