"""Incident tools for staff: give running attempts extra minutes, or re-open an attempt that
was submitted automatically during a documented incident. Each change writes an
AttemptAdjustment (who, why, the deadline before and after) and moves the auto-submit job
with the deadline; the job at the old deadline finds the attempt not yet due and does
nothing (attempt_submit)."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.assessments.models import Attempt, AttemptAdjustment
from apps.assessments.services.deadlines import auto_submit_schedule
from apps.assessments.services.errors import AttemptRefused
from apps.assessments.services.submit import results_invalidate
from apps.core.exceptions import Invalid

EXTRA_MINUTES_MIN = 1
EXTRA_MINUTES_MAX = 600

ERR_MINUTES = _("Give the extra minutes as a whole number from %(low)s to %(high)s.")
ERR_REASON = _("Give the reason: the incident this is for.")
ERR_NOT_AUTO_SUBMITTED = _(
    "Attempt %(attempt)s was not submitted automatically: only such an attempt can be re-opened."
)


def _checked_reason(*, minutes, reason: str) -> str:
    """The reason, stripped; Invalid (by field) for minutes out of range or no reason."""
    errors = {}
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not EXTRA_MINUTES_MIN <= minutes <= EXTRA_MINUTES_MAX
    ):
        errors["minutes"] = [ERR_MINUTES % {"low": EXTRA_MINUTES_MIN, "high": EXTRA_MINUTES_MAX}]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [ERR_REASON]
    if errors:
        raise Invalid(errors=errors, code="adjustment_invalid")
    return reason


def attempts_extend(
    *,
    minutes: int,
    reason: str,
    by,
    assessment=None,
    attempt_ids=None,
    district=None,
    batch=None,
    teacher=None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[AttemptAdjustment]:
    """Give `minutes` more to every running attempt (not submitted, deadline after `now`) of
    `assessment` or among `attempt_ids`, narrowed by the teacher's district, batch or the
    teacher. One transaction: the deadlines move and one audit row per attempt is written,
    or nothing is. A dry run changes nothing and returns the rows it would write, unsaved."""
    if assessment is None and attempt_ids is None:
        raise TypeError("attempts_extend needs an assessment or attempt_ids")
    reason = _checked_reason(minutes=minutes, reason=reason)
    now = now or timezone.now()
    extra = timedelta(minutes=minutes)
    running = Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS, deadline__gt=now)
    for name, value in (
        ("assessment", assessment),
        ("pk__in", attempt_ids),
        ("user__district", district),
        ("user__batch", batch),
        ("user", teacher),
    ):
        if value is not None:
            running = running.filter(**{name: value})
    running = running.select_related("user").order_by("deadline", "pk")
    with transaction.atomic(durable=True):
        attempts = list(running if dry_run else running.select_for_update(of=("self",)))
        adjustments = [
            AttemptAdjustment(
                attempt=attempt,
                kind=AttemptAdjustment.Kind.EXTENDED,
                minutes=minutes,
                reason=reason,
                by=by,
                old_deadline=attempt.deadline,
                new_deadline=attempt.deadline + extra,
            )
            for attempt in attempts
        ]
        if dry_run:
            return adjustments
        adjustments_extend(adjustments, extra=extra)
    return adjustments


def adjustments_extend(adjustments: list[AttemptAdjustment], *, extra: timedelta) -> None:
    """In the caller's transaction, the attempts locked: move each adjustment's attempt's
    deadline by `extra`, write the audit rows, and move the auto-submits along (also used
    by the outage credit, services/outages.py)."""
    Attempt.objects.filter(pk__in=[row.attempt.pk for row in adjustments]).update(
        deadline=F("deadline") + extra
    )
    AttemptAdjustment.objects.bulk_create(adjustments)
    for row in adjustments:
        row.attempt.deadline = row.new_deadline
        auto_submit_schedule(row.attempt)


def attempt_reopen(
    *, attempt: Attempt, minutes: int, reason: str, by, now: datetime | None = None
) -> AttemptAdjustment:
    """Re-open an attempt submitted automatically (the incident took the teacher's time): in
    progress again with its saved answers, its scores cleared, `minutes` from `now` to
    finish. Any other attempt is refused.

    Its result was synced when it was auto-submitted; submitted again, it records a new
    attempt.submitted event with the same key (attempt:<pk>), and the remote applies events
    by key, so the new scores replace the old ones there."""
    reason = _checked_reason(minutes=minutes, reason=reason)
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if not (locked.is_submitted and locked.auto_submitted):
            raise AttemptRefused(
                ERR_NOT_AUTO_SUBMITTED % {"attempt": locked.pk}, code="not_auto_submitted"
            )
        adjustment = AttemptAdjustment(
            attempt=locked,
            kind=AttemptAdjustment.Kind.REOPENED,
            minutes=minutes,
            reason=reason,
            by=by,
            old_deadline=locked.deadline,
            new_deadline=now + timedelta(minutes=minutes),
        )
        adjustment_reopen(adjustment)
    return adjustment


def adjustment_reopen(adjustment: AttemptAdjustment) -> None:
    """In the caller's transaction, the attempt locked and submitted automatically: in
    progress again until the adjustment's new deadline, its scores cleared, the audit row
    written and the auto-submit scheduled (also used by the outage credit)."""
    attempt = adjustment.attempt
    adjustment.save()
    attempt.status = Attempt.Status.IN_PROGRESS
    attempt.deadline = adjustment.new_deadline
    attempt.submitted_at = None
    attempt.auto_submitted = False
    attempt.total_score = attempt.max_score = attempt.percent = None
    attempt.category_scores = {}
    attempt.save(
        update_fields=[
            "status", "deadline", "submitted_at", "auto_submitted", "total_score",
            "max_score", "percent", "category_scores",
        ]
    )  # fmt: skip
    auto_submit_schedule(attempt)
    transaction.on_commit(lambda: results_invalidate(attempt.assessment_id), robust=True)
