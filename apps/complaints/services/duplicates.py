"""Duplicates: an officer merges a complaint into the one that carries the case on (its
primary). The duplicate is closed through the lifecycle with the outcome DUPLICATE and
points at its primary; both get an audit event. Nothing is copied: the primary's change page
lists its duplicates and their attachments, and the duplicate's status page names the
primary's reference.

Every duplicate points at a complaint that is not a duplicate itself (one level, so no
chains and no cycles): a merge into a duplicate is refused, and a complaint that already has
duplicates brings them along to the new primary. The rows are locked in the order of their
keys before anything is checked, so two officers merging the same complaints in opposite
directions at once cannot make a cycle: the second sees the first's merge and is refused."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.complaints.models import Complaint, ComplaintEvent
from apps.complaints.services.audit import event_record
from apps.complaints.services.lifecycle import complaint_transition
from apps.core.exceptions import NotFound, Refused

ERR_MERGE_SELF = gettext_lazy("A complaint cannot be a duplicate of itself.")
ERR_MERGE_GONE = gettext_lazy("One of these complaints no longer exists.")


def _refusal(message: str, code: str, **references) -> Refused:
    return Refused(message % references, code=code)


def _merge_check(duplicate: Complaint, primary: Complaint, primary_of_primary: str) -> None:
    if duplicate.duplicate_of_id is not None:
        raise _refusal(
            _("%(duplicate)s is already a duplicate of %(primary)s."),
            "already_merged",
            duplicate=duplicate.reference,
            primary=duplicate.duplicate_of.reference,
        )
    if primary.duplicate_of_id is not None:
        raise _refusal(
            _(
                "%(primary)s is itself a duplicate of %(primary_of_primary)s: merge into "
                "%(primary_of_primary)s instead."
            ),
            "primary_is_duplicate",
            primary=primary.reference,
            primary_of_primary=primary_of_primary,
        )
    if primary.purged_at is not None:
        raise _refusal(
            _("%(primary)s was purged after its retention period: it cannot take duplicates."),
            "primary_purged",
            primary=primary.reference,
        )
    if duplicate.is_closed:
        raise _refusal(
            _("%(duplicate)s is closed already: its outcome stays as it was."),
            "duplicate_closed",
            duplicate=duplicate.reference,
        )
    if primary.is_closed:
        raise _refusal(
            _(
                "%(primary)s is closed: a duplicate can only be merged into a complaint whose "
                "case carries on."
            ),
            "primary_closed",
            primary=primary.reference,
        )


def _merge(duplicate: Complaint, primary: Complaint, officer, now) -> None:
    """Merge one locked duplicate into its locked primary (checked already)."""
    duplicate.duplicate_of = primary
    duplicate.save(update_fields=["duplicate_of", "updated_at"])
    complaint_transition(
        complaint=duplicate,
        to=Complaint.Status.CLOSED,
        outcome=Complaint.Outcome.DUPLICATE,
        by=officer,
        now=now,
    )
    _link(duplicate, primary, officer, now)
    # The duplicate's own duplicates follow it, so every duplicate points at a primary (read
    # again: one merged into it since the rows were locked is locked now).
    for earlier in Complaint.objects.select_for_update().filter(duplicate_of=duplicate):
        earlier.duplicate_of = primary
        earlier.save(update_fields=["duplicate_of", "updated_at"])
        _link(earlier, primary, officer, now, through=duplicate.reference)


def _link(duplicate: Complaint, primary: Complaint, officer, now, **detail) -> None:
    """The audit of a duplicate linked to its primary, on both complaints."""
    event_record(
        duplicate,
        ComplaintEvent.Action.MERGED,
        by=officer,
        at=now,
        primary=primary.reference,
        **detail,
    )
    event_record(
        primary,
        ComplaintEvent.Action.DUPLICATE_ADDED,
        by=officer,
        at=now,
        duplicate=duplicate.reference,
    )


def _merge_locked(duplicate_ids, primary: Complaint, officer) -> list[Complaint]:
    ids = sorted({int(pk) for pk in duplicate_ids})
    if primary.pk in ids:
        raise Refused(ERR_MERGE_SELF, code="merge_self")
    wanted = [*ids, primary.pk]
    rows = {
        c.pk: c
        for c in Complaint.objects.select_for_update(of=("self",))
        .select_related("category", "sector", "act", "duplicate_of")
        # With the duplicates they will bring along: every row in one order, no deadlock.
        .filter(Q(pk__in=wanted) | Q(duplicate_of__in=ids))
        .order_by("pk")
    }
    if not all(pk in rows for pk in wanted):
        raise NotFound(ERR_MERGE_GONE, code="merge_gone")
    locked_primary = rows[primary.pk]
    # For the refusal's message only: the primary's own primary (neither locked nor changed).
    primary_of_primary = getattr(locked_primary.duplicate_of, "reference", "")
    for pk in ids:
        _merge_check(rows[pk], locked_primary, primary_of_primary)
    now = timezone.now()
    for pk in ids:
        _merge(rows[pk], locked_primary, officer, now)
    return [rows[pk] for pk in ids]


def complaint_merge(*, duplicate: Complaint, primary: Complaint, officer) -> Complaint:
    """Mark `duplicate` as a duplicate of `primary`; returns it as merged. Refused with a
    message naming the complaint (NotFound if one is gone)."""
    with transaction.atomic(durable=True):
        [merged] = _merge_locked([duplicate.pk], primary, officer)
    return merged


def complaint_merge_many(*, duplicate_ids, primary: Complaint, officer) -> int:
    """The bulk action: mark complaints as duplicates of `primary`, all or none (one refusal
    refuses them all). Returns how many were merged."""
    with transaction.atomic(durable=True):
        return len(_merge_locked(duplicate_ids, primary, officer))
