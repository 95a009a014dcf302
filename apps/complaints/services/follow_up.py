"""The complainant's follow-up: more information and files on their own complaint (proven by
the receipt, at the view), with the filing's checks, also after it was closed. New information
puts the complaint back in front of its officer: a closed one reopens (services/lifecycle.py),
one awaiting information goes back under investigation, and every one is flagged as new
information in the officers' list until the officer in charge opens it."""

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Complaint, ComplaintEvent, ComplaintMessage
from apps.complaints.services.attachments import (
    CheckedUpload,
    attachments_check,
    attachments_record,
    attachments_stored,
)
from apps.complaints.services.audit import event_record
from apps.complaints.services.lifecycle import complaint_reopen_status, complaint_transition
from apps.core.exceptions import Invalid, Refused

ERR_FOLLOW_UP_EMPTY = _("Write what you want to add, or attach a file.")
ERR_FOLLOW_UP_PURGED = _(
    "This complaint was closed and its details were removed after the retention period: it "
    "cannot take new information. File a new complaint instead."
)
ERR_FOLLOW_UP_RESENT = _(
    "Your complaint received information since this page was shown (under “You added”). If "
    "what you wrote is there, it was sent already; if not, send it again."
)
ERR_FOLLOW_UP_DUPLICATE = _(
    "This complaint was merged into complaint %(reference)s, which is handled in its place: it "
    "cannot take new information. File a new complaint that quotes %(reference)s instead."
)

S = Complaint.Status


def complaint_follow_up_refusal(complaint: Complaint) -> Refused | None:
    """Why `complaint` cannot take a follow-up at all, or None: purged (nothing left to add
    to), or merged as a duplicate (its case goes on under the primary, which the complainant
    cannot see without its receipt)."""
    if complaint.purged_at is not None:
        return Refused(ERR_FOLLOW_UP_PURGED, code="purged")
    if complaint.duplicate_of_id is not None:
        primary = Complaint.objects.values_list("reference", flat=True)
        reference = primary.get(pk=complaint.duplicate_of_id)
        return Refused(ERR_FOLLOW_UP_DUPLICATE % {"reference": reference}, code="duplicate")
    return None


def _attachments_kept(complaint: Complaint) -> dict:
    """What the complaint's attachments already take of the per-complaint limits."""
    kept = complaint.attachments.aggregate(kept_files=Count("pk"), kept_bytes=Sum("size"))
    return {"kept_files": kept["kept_files"], "kept_bytes": kept["kept_bytes"] or 0}


def complaint_follow_up_check(*, complaint: Complaint, text: str, files=()) -> list[CheckedUpload]:
    """What complaint_follow_up would refuse, before anything is stored: Refused for a
    complaint that cannot take new information, Invalid (a message per field) for an empty
    follow-up or files beyond the filing's limits, counted with what the complaint holds.
    The checked uploads, each read once."""
    return _checked(complaint, text, files)[0]


def _checked(complaint: Complaint, text: str, files) -> tuple[list[CheckedUpload], dict]:
    """complaint_follow_up_check, and what the complaint held when it was counted."""
    if refusal := complaint_follow_up_refusal(complaint):
        raise refusal
    files = list(files)
    kept = _attachments_kept(complaint)
    errors = {}
    if not text.strip() and not files:
        errors["text"] = [ERR_FOLLOW_UP_EMPTY]
    try:
        checked = attachments_check(files, **kept)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors=errors)
    return checked, kept


def complaint_follow_up(
    *, complaint: Complaint, text: str, files=(), follow_ups_seen: int | None = None, now=None
) -> ComplaintMessage:
    """Add the complainant's text and files to `complaint`: checked as a filing is
    (complaint_follow_up_check), the files stored, then in one transaction under the
    complaint's row lock (a purge or a merge meanwhile wins; given `follow_ups_seen`, the
    number of follow-ups the complainant's page showed, a count that moved means the form was
    resent or overtaken: Invalid, nothing added): the message, the attachments,
    the audit event, the status move (closed: reopened to its officer or intake; awaiting
    information: investigating) and the new-information flag. Files of a failed follow-up
    are deleted."""
    checked, kept = _checked(complaint, text, files)
    with attachments_stored(checked) as stored, transaction.atomic(durable=True):
        now = now or timezone.now()
        current = (
            Complaint.objects.select_for_update(of=("self",))
            .select_related("category", "sector", "act")
            .get(pk=complaint.pk)
        )
        if refusal := complaint_follow_up_refusal(current):
            raise refusal
        if follow_ups_seen is not None:
            added = current.messages.filter(kind=ComplaintMessage.Kind.FOLLOW_UP).count()
            if added != follow_ups_seen:
                raise Invalid(ERR_FOLLOW_UP_RESENT, code="follow_up_resent")
        if checked and (now_kept := _attachments_kept(current)) != kept:
            # Another follow-up added files meanwhile: the limits again, with what is left.
            attachments_check([c.upload for c in checked], **now_kept)
        message = ComplaintMessage.objects.create(
            complaint=current,
            kind=ComplaintMessage.Kind.FOLLOW_UP,
            body=text.strip(),
            created_at=now,
        )
        attachments = attachments_record(current, stored, now)
        event_record(
            current,
            ComplaintEvent.Action.FOLLOW_UP,
            at=now,
            message=message.pk,
            attachments=[a.original_name for a in attachments],
        )
        if current.status == S.CLOSED:
            to = complaint_reopen_status(current)
            complaint_transition(complaint=current, to=to, by=None, now=now, reopen=True)
        elif current.status == S.AWAITING_INFO:
            complaint_transition(complaint=current, to=S.INVESTIGATING, by=None, now=now)
        current.new_info_at = now
        current.save(update_fields=["new_info_at", "updated_at"])
    complaint.status, complaint.new_info_at = current.status, current.new_info_at
    return message
