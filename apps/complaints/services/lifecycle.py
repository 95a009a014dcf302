"""A complaint's lifecycle: one table of the moves between statuses (TRANSITIONS) and one
service that makes them (complaint_transition). Nothing else assigns Complaint.status: the
officers' edits and bulk actions and the triage jobs all come through here, so every move is
checked, audited and dated the same way, and closing always publishes `complaint.closed`."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.complaints.models import Complaint, ComplaintEvent
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.core.exceptions import Invalid, Refused
from apps.sync.services import outbox_event_record

S = Complaint.Status
ERR_OUTCOME_REQUIRED = gettext_lazy("Choose an outcome to close a complaint.")
ERR_OUTCOME_ONLY_WHEN_CLOSED = gettext_lazy(
    "An outcome can only be set when the complaint is closed."
)

# From each status, the statuses a complaint may move to, and why each move exists.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset(
        {
            S.TRIAGING,  # a triage worker took it
            S.TRIAGED,  # an officer classified it by hand (manual triage)
            S.ASSIGNED,  # an officer took it before triage finished
            S.CLOSED,  # closed at intake: withdrawn, a duplicate, not ours
        }
    ),
    S.TRIAGING: frozenset(
        {
            S.RECEIVED,  # triage gave up (manual triage, failure): back for an officer
            S.TRIAGED,  # triage classified it
            S.ASSIGNED,  # an officer took it while triage ran
            S.CLOSED,  # closed while triage ran: withdrawn, a duplicate, not ours
        }
    ),
    S.TRIAGED: frozenset(
        {
            S.ASSIGNED,  # an officer took it
            S.CLOSED,  # closed on its classification alone: referred, not ours
        }
    ),
    S.ASSIGNED: frozenset(
        {
            S.INVESTIGATING,  # the officer started work
            S.AWAITING_INFO,  # the officer needs more from the complainant first
            S.CLOSED,  # decided without an investigation
        }
    ),
    S.INVESTIGATING: frozenset(
        {
            S.AWAITING_INFO,  # the investigation needs more from the complainant
            S.CLOSED,  # the investigation reached its outcome
        }
    ),
    S.AWAITING_INFO: frozenset(
        {
            S.INVESTIGATING,  # the information came in
            S.CLOSED,  # it never came, or the complaint was withdrawn
        }
    ),
    # Final: `complaint.closed` has gone out and nothing tells the receivers of a reopening.
    S.CLOSED: frozenset(),
}


def complaint_status_check(*, status: str, outcome: str) -> None:
    """A closed complaint has an outcome, an open one has none (Invalid otherwise)."""
    if status == S.CLOSED and not outcome:
        raise Invalid(ERR_OUTCOME_REQUIRED, code="outcome_required")
    if outcome and status != S.CLOSED:
        raise Invalid(ERR_OUTCOME_ONLY_WHEN_CLOSED, code="outcome_only_when_closed")


def complaint_transition_check(*, complaint: Complaint, to: str, outcome: str = "") -> bool:
    """Whether moving `complaint` to `to` (with `outcome`) changes anything: False for the
    status and outcome it already has; Invalid for a broken outcome rule; Refused for a move
    the table does not allow (a closed complaint's outcome is part of that: it stays)."""
    complaint_status_check(status=to, outcome=outcome)
    if complaint.status == to and complaint.outcome == outcome:
        return False
    if complaint.status == to:  # a closed complaint with another outcome
        raise Refused(
            _("%(reference)s is closed: its outcome stays as it was.")
            % {"reference": complaint.reference},
            code="outcome_final",
        )
    if to not in TRANSITIONS[complaint.status]:
        raise Refused(
            _("%(reference)s: a complaint that is “%(before)s” cannot be made “%(after)s”.")
            % {
                "reference": complaint.reference,
                "before": S(complaint.status).label,
                "after": S(to).label,
            },
            code="transition_forbidden",
        )
    return True


def complaint_transition(*, complaint: Complaint, to: str, by, outcome: str = "", now=None) -> bool:
    """Move a complaint to status `to`: check the move (complaint_transition_check), stamp
    its dates, save it, audit it and, on closing, publish `complaint.closed`, all in the
    caller's transaction (or its own). The caller holds the complaint's row lock. Returns
    whether anything changed."""
    if not complaint_transition_check(complaint=complaint, to=to, outcome=outcome):
        return False
    now = now or timezone.now()
    before = complaint.status
    with transaction.atomic(savepoint=False):
        complaint.status, complaint.outcome = to, outcome
        fields = ["status", "outcome", "updated_at"]
        if to == S.CLOSED:
            complaint.closed_at = now
            fields.append("closed_at")
        complaint.save(update_fields=fields)
        event_record(
            complaint,
            ComplaintEvent.Action.STATUS,
            by=by,
            at=now,
            before=before,
            after=to,
            outcome=outcome,
        )
        if to == S.CLOSED:
            _complaint_closed_publish(complaint)
        dashboard_invalidate_on_commit()
    return True


def _complaint_closed_publish(complaint: Complaint) -> None:
    key = f"complaint:{complaint.reference}"
    outbox_event_record(
        event_type="complaint.closed",
        aggregate_type="complaint",
        aggregate_key=key,
        payload={
            "external_key": key,
            "reference": complaint.reference,
            "status": complaint.status,
            "outcome": complaint.outcome,
            "category": complaint.category.code if complaint.category else "",
            "sector": complaint.sector.code if complaint.sector else "",
            "act": complaint.act.code if complaint.act else "",
            "received_at": complaint.received_at.isoformat(),
            "closed_at": complaint.closed_at.isoformat(),
        },
    )
