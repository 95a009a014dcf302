"""Officers' workflow: assignment, status and outcome, priority, classification overrides,
notes and replies. Every change is audited; status moves go through the lifecycle
(services/lifecycle.py), which publishes `complaint.closed` on closing."""

from copy import copy

from django.db import transaction
from django.utils import timezone

from apps.complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    TriageJob,
    TriageOverride,
)
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.complaints.services.deadlines import due_at_reclassified
from apps.complaints.services.lifecycle import complaint_transition, complaint_transition_check

STATUSES_BEFORE_ASSIGNMENT = (
    Complaint.Status.RECEIVED,
    Complaint.Status.TRIAGING,
    Complaint.Status.TRIAGED,
)


def _assign(complaint: Complaint, officer, by) -> list[str]:
    if complaint.assigned_to_id == (officer.pk if officer else None):
        return []
    complaint.assigned_to = officer
    event_record(
        complaint,
        ComplaintEvent.Action.ASSIGNED,
        by=by,
        officer=officer.username if officer else None,
    )
    if officer and complaint.status in STATUSES_BEFORE_ASSIGNMENT:
        complaint_transition(complaint=complaint, to=Complaint.Status.ASSIGNED, by=by)
    return ["assigned_to"]


def _status_after_assignment(complaint: Complaint, changes: dict) -> str:
    """The status an edit's own status change starts from: an assignment in the same edit
    moves a complaint not yet assigned to ASSIGNED first (see _assign)."""
    officer = changes.get("assigned_to")
    assigning = officer is not None and officer.pk != complaint.assigned_to_id
    if assigning and complaint.status in STATUSES_BEFORE_ASSIGNMENT:
        return Complaint.Status.ASSIGNED
    return complaint.status


def complaint_update_check(*, complaint: Complaint, changes: dict) -> None:
    """What complaint_update would refuse in these changes (the outcome rule, a move the
    lifecycle forbids), checked before anything is saved: for the admin's change form."""
    if "status" not in changes and "outcome" not in changes:
        return
    start = copy(complaint)
    start.status = _status_after_assignment(complaint, changes)
    complaint_transition_check(
        complaint=start,
        to=changes.get("status", complaint.status),
        outcome=changes.get("outcome", complaint.outcome),
    )


def _override(complaint: Complaint, field: str, value, by) -> list[str]:
    current = getattr(complaint, field)
    if current == value:
        return []
    # The value triage chose: from the first override of this field, else the current one.
    first = complaint.overrides.filter(field=field).order_by("at", "pk").first()
    original = first.original if first else (current.code if current else "")
    setattr(complaint, field, value)
    job = getattr(complaint, "triage_job", None)
    if job is not None and job.state == TriageJob.State.DONE:  # triage proposed a value
        TriageOverride.objects.create(
            complaint=complaint,
            field=field,
            original=original,
            new=value.code if value else "",
            backend=complaint.triage_backend,
            by=by,
            at=timezone.now(),
        )
    event_record(
        complaint,
        ComplaintEvent.Action.OVERRIDE,
        by=by,
        field=field,
        before=current.code if current else None,
        after=value.code if value else None,
    )
    fields = [field]
    if field == "category":
        complaint.due_at = due_at_reclassified(complaint.due_at, before=current, after=value)
        fields.append("due_at")
    return fields


def _message(complaint: Complaint, kind: str, body: str, by) -> None:
    ComplaintMessage.objects.create(
        complaint=complaint, kind=kind, body=body, author=by, created_at=timezone.now()
    )
    action = (
        ComplaintEvent.Action.REPLY
        if kind == ComplaintMessage.Kind.PUBLIC_REPLY
        else ComplaintEvent.Action.NOTE
    )
    event_record(complaint, action, by=by)


def complaint_update(
    *,
    complaint: Complaint,
    by,
    changes: dict,
    note: str = "",
    reply: str = "",
) -> Complaint:
    """An officer's edit from the admin change form: assignment, status and outcome,
    priority, classification overrides, an internal note and a public reply. Every change
    is audited. Not durable: the admin's change form already holds a transaction."""
    with transaction.atomic():
        current = (
            Complaint.objects.select_for_update(of=("self",))
            .select_related("triage_job", "category", "sector", "act")
            .get(pk=complaint.pk)
        )
        fields: list[str] = []
        if "assigned_to" in changes:
            fields += _assign(current, changes["assigned_to"], by)
        for field in ("category", "sector", "act"):
            if field in changes:
                fields += _override(current, field, changes[field], by)
        if "priority" in changes and current.priority != changes["priority"]:
            event_record(
                current,
                ComplaintEvent.Action.PRIORITY,
                by=by,
                before=current.priority,
                after=changes["priority"],
            )
            current.priority = changes["priority"]
            fields.append("priority")
        if "status" in changes or "outcome" in changes:
            complaint_transition(
                complaint=current,
                to=changes.get("status", current.status),
                outcome=changes.get("outcome", current.outcome),
                by=by,
            )
        if note:
            _message(current, ComplaintMessage.Kind.INTERNAL_NOTE, note, by)
        if reply:
            _message(current, ComplaintMessage.Kind.PUBLIC_REPLY, reply, by)
        if fields:
            current.save(update_fields=sorted({*fields, "updated_at"}))
            dashboard_invalidate_on_commit()
    return current


def complaint_assign(*, complaint_ids, officer, by) -> int:
    """Assign complaints (bulk action "assign to me"); returns how many changed."""
    with transaction.atomic(durable=True):
        changed = 0
        for complaint in Complaint.objects.select_for_update().filter(pk__in=list(complaint_ids)):
            fields = _assign(complaint, officer, by)
            if fields:
                complaint.save(update_fields=[*fields, "updated_at"])
                changed += 1
        dashboard_invalidate_on_commit()
    return changed


def complaint_set_status(*, complaint_ids, status: str, outcome: str = "", by) -> int:
    """Move complaints to a status (bulk action), each through complaint_transition; one
    move the lifecycle refuses refuses them all (nothing changes). Returns how many moved."""
    with transaction.atomic(durable=True):
        changed = 0
        complaints = Complaint.objects.select_for_update(of=("self",)).select_related(
            "category", "sector", "act"
        )
        for complaint in complaints.filter(pk__in=list(complaint_ids)).order_by("pk"):
            changed += complaint_transition(complaint=complaint, to=status, outcome=outcome, by=by)
    return changed
