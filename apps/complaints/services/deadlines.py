"""Due dates (the SLA of a complaint's category) and the escalation of overdue complaints."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.complaints.models import Category, Complaint, ComplaintEvent
from apps.complaints.selectors import complaints_overdue
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit


def sla_for(category: Category | None) -> timedelta:
    """SLA: COMPLAINTS_SLA_DAYS for the category's code, else the category's own, else the
    default (a complaint not classified yet)."""
    if category is None:
        return timedelta(days=settings.COMPLAINTS_DEFAULT_SLA_DAYS)
    return timedelta(days=settings.COMPLAINTS_SLA_DAYS.get(category.code, category.sla_days))


def due_at_for(received_at, category: Category | None):
    """The due date of a clock started at `received_at` (a filing, or a reopening)."""
    return received_at + sla_for(category)


def due_at_reclassified(due_at, *, before: Category | None, after: Category | None):
    """The due date when `after` replaces `before`: the new SLA on the same clock, which
    started at the filing or at the complainant's reopening (services/lifecycle.py)."""
    return due_at - sla_for(before) + sla_for(after)


def complaint_escalate_overdue(*, now=None) -> list[Complaint]:
    """Mark open complaints past their due date that were not escalated yet: priority goes up
    to at least High and an audit event is written. Returns the newly escalated ones."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        escalated = list(
            complaints_overdue(now=now)
            .filter(escalated_at__isnull=True)
            .select_for_update(skip_locked=True)
            .order_by("due_at")
        )
        for complaint in escalated:
            complaint.escalated_at = now
            complaint.priority = max(complaint.priority, Complaint.Priority.HIGH)
            complaint.save(update_fields=["escalated_at", "priority", "updated_at"])
            event_record(
                complaint, ComplaintEvent.Action.ESCALATED, due_at=complaint.due_at.isoformat()
            )
        if escalated:
            dashboard_invalidate_on_commit()
    return escalated
