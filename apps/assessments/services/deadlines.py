"""Attempt deadlines: the time limit times the teacher's accommodation, capped by the
window's close, and the auto-submit job scheduled at it."""

import math
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from apps.assessments.models import Accommodation, Assignment, Attempt
from apps.core.outage import after_commit
from apps.core.queues import get_queue, queue_redis

AUTO_SUBMIT_JOB = "apps.assessments.jobs.attempts_auto_submit_due"  # by name: jobs imports us


def attempt_deadline(
    *, started_at: datetime, time_limit_minutes: int, factor: Decimal, closes_at: datetime
) -> datetime:
    """min(start + limit x accommodation, window close)."""
    allowed = timedelta(seconds=int(time_limit_minutes * 60 * Decimal(factor)))
    return min(started_at + allowed, closes_at)


def _accommodation_factor(*, assignment_id: int, user_id: int) -> Decimal:
    factor = (
        Accommodation.objects.filter(assignment_id=assignment_id, user_id=user_id)
        .values_list("extra_time_factor", flat=True)
        .first()
    )
    return factor or Decimal(1)


def auto_submit_second(deadline: datetime) -> int:
    """The second (Unix time) whose auto-submit job submits an attempt due at `deadline`."""
    return math.ceil(deadline.timestamp())


def auto_submit_job_id(deadline: datetime) -> str:
    return f"attempts-autosubmit-{auto_submit_second(deadline)}"


def auto_submit_schedule(attempt: Attempt) -> None:
    """After commit: make sure a job runs at the attempt's deadline, to the second, that
    submits every attempt due by then. A start storm's deadlines share their seconds, so the
    queue holds about one job a second, not one per attempt, and most starts pay one SET NX
    instead of RQ's enqueue (a Job built, pickled and written). If Redis loses the
    job, or is down (logged once, the start still succeeds), the recovery sweep submits the
    attempt from its row."""
    second = auto_submit_second(attempt.deadline)

    def enqueue():
        queue_name = settings.ASSESSMENTS_AUTOSUBMIT_QUEUE
        # Kept until the second comes: a deadline moved to a second whose job has run
        # already gets a job of its own again (RQ runs a job due in the past at once).
        claimed = queue_redis(queue_name).set(
            f"assessments:autosubmit:{second}", 1, nx=True, ex=max(1, second - int(time.time()))
        )
        if claimed:
            get_queue(queue_name).enqueue_at(
                datetime.fromtimestamp(second, tz=UTC),
                AUTO_SUBMIT_JOB,
                job_id=auto_submit_job_id(attempt.deadline),
                job_timeout=settings.RECOVERY_JOB_TIMEOUT_SECONDS,
            )

    after_commit(enqueue)


def accommodation_set(*, assignment: Assignment, user, factor: Decimal) -> Accommodation:
    """Give a teacher extra time; a running attempt gets its new deadline at once."""
    with transaction.atomic(durable=True):
        accommodation, _ = Accommodation.objects.update_or_create(
            assignment=assignment, user=user, defaults={"extra_time_factor": factor}
        )
        attempt_deadline_refresh(assignment=assignment, user=user)
    return accommodation


def attempt_deadline_refresh(*, assignment: Assignment, user) -> None:
    """Recompute the deadline of the user's running attempt in this window (in the caller's
    transaction: the admin's, or accommodation_set's) and schedule its auto-submit. The
    time its adjustments moved it (incident tools, outage credit) is kept on top."""
    factor = _accommodation_factor(assignment_id=assignment.pk, user_id=user.pk)
    running = (
        Attempt.objects.select_for_update()
        .select_related("assessment")
        .filter(assignment=assignment, user=user, status=Attempt.Status.IN_PROGRESS)
    )
    for attempt in running:
        moved = sum(
            (row.new_deadline - row.old_deadline for row in attempt.adjustments.all()),
            timedelta(),
        )
        attempt.deadline = moved + attempt_deadline(
            started_at=attempt.started_at,
            time_limit_minutes=attempt.assessment.time_limit_minutes,
            factor=factor,
            closes_at=assignment.closes_at,
        )
        attempt.save(update_fields=["deadline"])
        auto_submit_schedule(attempt)
