"""The identity vault's one way out: an officer with the permission reveals one complaint's
contact details, and every reveal is an audit event (who, when, which details; never the
details themselves)."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Complaint, ComplaintEvent
from apps.complaints.services.audit import event_record
from apps.complaints.vault import Contact, VaultError, contact_open, contact_rotate
from apps.core.exceptions import Refused

REVEAL_PERMISSION = "complaints.view_complainant_identity"
ERR_REVEAL_NOT_ALLOWED = _(
    "Your account may not see complainants' contact details. A supervisor can, or an "
    "administrator can give you the permission “Can reveal complainants' contact details”."
)
ERR_VAULT_UNREADABLE = _(
    "These contact details cannot be decrypted with the keys this server has. Ask an "
    "administrator to check COMPLAINTS_VAULT_KEYS."
)


def complaint_contact_reveal(*, complaint: Complaint, by) -> Contact:
    """The complaint's contact, opened once and audited; Refused (nothing opened, nothing
    written) without the permission or when no configured key opens it."""
    if not by.has_perm(REVEAL_PERMISSION):
        raise Refused(ERR_REVEAL_NOT_ALLOWED, code="reveal_not_allowed")
    if not complaint.contact_sealed:
        return Contact()  # anonymous or purged: nothing to reveal, nothing to record
    try:
        contact = contact_open(complaint.contact_sealed)
    except VaultError:
        raise Refused(ERR_VAULT_UNREADABLE, code="vault_unreadable") from None
    given = [name for name in ("name", "email", "phone") if getattr(contact, name)]
    with transaction.atomic(durable=True):
        event_record(complaint, ComplaintEvent.Action.CONTACT_REVEALED, by=by, details=given)
    return contact


@dataclass
class RotatedBatch:
    last_pk: int | None  # where the next batch starts; None: no rows left
    seen: int = 0
    changed: int = 0
    unreadable: list[str] = field(default_factory=list)  # references no key opens


def vault_rotate_batch(*, after_pk: int, size: int, dry_run: bool = False) -> RotatedBatch:
    """The next `size` complaints with a contact after `after_pk`, re-sealed with the current
    key and re-indexed with the current index key, in one short transaction with their rows
    locked (a purge or a filing meanwhile waits for it, never loses a write). Rows already
    current are left alone, so a rerun after an interruption picks up where it stopped.
    `dry_run` counts what would change and writes nothing."""
    fields = ["contact_sealed", "contact_email_index"]
    with transaction.atomic(durable=True):
        rows = Complaint.objects.exclude(contact_sealed="").filter(pk__gt=after_pk)
        if not dry_run:
            rows = rows.select_for_update(of=("self",))
        rows = list(rows.order_by("pk").only("pk", "reference", *fields)[:size])
        batch = RotatedBatch(last_pk=rows[-1].pk if rows else None, seen=len(rows))
        changed = []
        for row in rows:
            try:
                columns = contact_rotate(sealed=row.contact_sealed, index=row.contact_email_index)
            except VaultError:
                batch.unreadable.append(row.reference)
                continue
            if columns:
                for name, value in columns.items():
                    setattr(row, name, value)
                changed.append(row)
        batch.changed = len(changed)
        if changed and not dry_run:
            Complaint.objects.bulk_update(changed, fields)
    return batch
