"""A complaint's lifecycle: one table of the moves between statuses (TRANSITIONS) and one
service that makes them (complaint_transition). Nothing else assigns Complaint.status: the
officers' edits and bulk actions and the triage jobs all come through here, so every move is
checked, audited and dated the same way, and closing always publishes `complaint.closed`.
Reopening a closed complaint is the complainant's alone (their follow-up, services/follow_up.py):
it publishes `complaint.reopened`."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.complaints.models import Complaint, ComplaintEvent
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.complaints.services.deadlines import due_at_for
from apps.core.exceptions import Invalid, Refused
from apps.sync.services import outbox_event_record

S = Complaint.Status
ERR_OUTCOME_REQUIRED = gettext_lazy("Choose an outcome to close a complaint.")
ERR_OUTCOME_ONLY_WHEN_CLOSED = gettext_lazy(
    "An outcome can only be set when the complaint is closed."
)
ERR_DUPLICATE_NEEDS_PRIMARY = gettext_lazy(
    "A complaint is closed as a duplicate by marking it as a duplicate of its primary."
)
ERR_REOPEN_BY_COMPLAINANT_ONLY = gettext_lazy(
    "%(reference)s is closed: only new information from the complainant reopens it."
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
    # Only by the complainant's follow-up (reopen=True), never an officer's edit: the outcome
    # was decided. `complaint.reopened` tells the receivers of `complaint.closed`.
    S.CLOSED: frozenset(
        {
            S.ASSIGNED,  # new information: back in front of the officer who has it
            S.RECEIVED,  # new information and no officer has it: back to intake
        }
    ),
}


def complaint_reopen_status(complaint: Complaint) -> str:
    """Where a follow-up takes a closed complaint: its officer, else intake."""
    return S.ASSIGNED if complaint.assigned_to_id else S.RECEIVED


def complaint_status_check(*, status: str, outcome: str) -> None:
    """A closed complaint has an outcome, an open one has none (Invalid otherwise)."""
    if status == S.CLOSED and not outcome:
        raise Invalid(ERR_OUTCOME_REQUIRED, code="outcome_required")
    if outcome and status != S.CLOSED:
        raise Invalid(ERR_OUTCOME_ONLY_WHEN_CLOSED, code="outcome_only_when_closed")


def complaint_transition_check(
    *, complaint: Complaint, to: str, outcome: str = "", reopen: bool = False
) -> bool:
    """Whether moving `complaint` to `to` (with `outcome`) changes anything: False for the
    status and outcome it already has; Invalid for a broken outcome rule; Refused for a move
    the table does not allow (a closed complaint's outcome is part of that: it stays), and
    for a reopening that is not the complainant's (`reopen`) or not to the right status."""
    complaint_status_check(status=to, outcome=outcome)
    if complaint.status == to and complaint.outcome == outcome:
        return False
    if outcome == Complaint.Outcome.DUPLICATE and complaint.duplicate_of_id is None:
        raise Refused(ERR_DUPLICATE_NEEDS_PRIMARY, code="duplicate_needs_primary")
    if complaint.status == to:  # a closed complaint with another outcome
        raise Refused(
            _("%(reference)s is closed: its outcome stays as it was.")
            % {"reference": complaint.reference},
            code="outcome_final",
        )
    if complaint.status == S.CLOSED and to in TRANSITIONS[S.CLOSED] and not reopen:
        raise Refused(
            ERR_REOPEN_BY_COMPLAINANT_ONLY % {"reference": complaint.reference},
            code="reopen_by_complainant_only",
        )
    reopening_elsewhere = complaint.status == S.CLOSED and to != complaint_reopen_status(complaint)
    if to not in TRANSITIONS[complaint.status] or reopening_elsewhere:
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


def complaint_transition(
    *, complaint: Complaint, to: str, by, outcome: str = "", now=None, reopen: bool = False
) -> bool:
    """Move a complaint to status `to`: check the move (complaint_transition_check), stamp
    its dates, save it, audit it and, on closing, publish `complaint.closed` (on reopening,
    `complaint.reopened`), all in the caller's transaction (or its own). The caller holds the
    complaint's row lock. A reopened complaint's SLA runs again from the reopening.
    Returns whether anything changed."""
    if not complaint_transition_check(complaint=complaint, to=to, outcome=outcome, reopen=reopen):
        return False
    now = now or timezone.now()
    before = complaint.status
    with transaction.atomic(savepoint=False):
        complaint.status, complaint.outcome = to, outcome
        fields = ["status", "outcome", "updated_at"]
        clock = {}
        if S.CLOSED in (before, to):
            complaint.closed_at = now if to == S.CLOSED else None
            fields.append("closed_at")
        if before == S.CLOSED:  # reopened: a fresh SLA from now, which may escalate again
            complaint.due_at = due_at_for(now, complaint.category)
            complaint.escalated_at = None
            fields += ["due_at", "escalated_at"]
            clock = {"due_at": complaint.due_at.isoformat()}
        complaint.save(update_fields=fields)
        event_record(
            complaint,
            ComplaintEvent.Action.STATUS,
            by=by,
            at=now,
            before=before,
            after=to,
            outcome=outcome,
            **clock,
        )
        if S.CLOSED in (before, to):
            event_type = "complaint.closed" if to == S.CLOSED else "complaint.reopened"
            _complaint_publish(complaint, event_type)
        dashboard_invalidate_on_commit()
    return True


def _complaint_publish(complaint: Complaint, event_type: str) -> None:
    """The same flat payload on closing and reopening: the latest state wins downstream."""
    key = f"complaint:{complaint.reference}"
    outbox_event_record(
        event_type=event_type,
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
            "closed_at": complaint.closed_at.isoformat() if complaint.closed_at else "",
        },
    )
