"""Officers' workflow: assignment, status and outcome, priority, classification overrides,
notes and replies. Every change is audited; closing publishes `complaint.closed`."""

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
from apps.complaints.services.deadlines import due_at_for
from apps.core.exceptions import Invalid
from apps.sync.services import outbox_event_record

ERR_OUTCOME_REQUIRED = "Choose an outcome to close a complaint."
ERR_OUTCOME_ONLY_WHEN_CLOSED = "An outcome can only be set when the complaint is closed."
STATUSES_BEFORE_ASSIGNMENT = (
    Complaint.Status.RECEIVED,
    Complaint.Status.TRIAGING,
    Complaint.Status.TRIAGED,
)


def _assign(complaint: Complaint, officer, by) -> list[str]:
    if complaint.assigned_to_id == (officer.pk if officer else None):
        return []
    complaint.assigned_to = officer
    fields = ["assigned_to"]
    if officer and complaint.status in STATUSES_BEFORE_ASSIGNMENT:
        complaint.status = Complaint.Status.ASSIGNED
        fields.append("status")
    event_record(
        complaint,
        ComplaintEvent.Action.ASSIGNED,
        by=by,
        officer=officer.username if officer else None,
    )
    return fields


def complaint_status_check(*, status: str, outcome: str) -> None:
    """A closed complaint has an outcome, an open one has none (Invalid otherwise)."""
    if status == Complaint.Status.CLOSED and not outcome:
        raise Invalid(ERR_OUTCOME_REQUIRED, code="outcome_required")
    if outcome and status != Complaint.Status.CLOSED:
        raise Invalid(ERR_OUTCOME_ONLY_WHEN_CLOSED, code="outcome_only_when_closed")


def _set_status(complaint: Complaint, status: str, outcome: str, by) -> list[str]:
    complaint_status_check(status=status, outcome=outcome)
    if complaint.status == status and complaint.outcome == outcome:
        return []
    before = complaint.status
    complaint.status, complaint.outcome = status, outcome
    complaint.closed_at = timezone.now() if status == Complaint.Status.CLOSED else None
    event_record(
        complaint, ComplaintEvent.Action.STATUS, by=by, before=before, after=status, outcome=outcome
    )
    if status == Complaint.Status.CLOSED:
        _complaint_closed_publish(complaint)
    return ["status", "outcome", "closed_at"]


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
        complaint.due_at = due_at_for(complaint.received_at, value)
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
            fields += _set_status(
                current,
                changes.get("status", current.status),
                changes.get("outcome", current.outcome),
                by,
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
    """Set the status of complaints (bulk action); closing needs an outcome and publishes a
    `complaint.closed` outbox event in the same transaction."""
    with transaction.atomic(durable=True):
        changed = 0
        complaints = Complaint.objects.select_for_update(of=("self",)).select_related(
            "category", "sector", "act"
        )
        for complaint in complaints.filter(pk__in=list(complaint_ids)):
            fields = _set_status(complaint, status, outcome, by)
            if fields:
                complaint.save(update_fields=[*fields, "updated_at"])
                changed += 1
        dashboard_invalidate_on_commit()
    return changed
