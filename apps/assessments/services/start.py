"""Starting an attempt: idempotent, settled by the unique constraint when two race."""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.assessments import selectors
from apps.assessments.models import Attempt
from apps.assessments.services.deadlines import attempt_deadline, auto_submit_schedule
from apps.assessments.services.errors import (
    ERR_ATTEMPT_NUMBER,
    ERR_NO_ATTEMPTS_LEFT,
    ERR_NOT_AVAILABLE,
    ERR_WRONG_ATTEMPT_NUMBER,
    AnswerInvalid,
    AssessmentNotAvailable,
    AttemptRefused,
)
from apps.core.db import row_insert, rows_fetch
from apps.core.input import SMALLINT_MAX


def attempt_start(
    *, user, assessment_id: int, number: int = 1, now: datetime | None = None
) -> Attempt:
    """Idempotent: starting attempt `number` again returns that attempt, whatever its state,
    so a double click, two tabs or a replayed POST never create a second one."""
    if not 1 <= number <= SMALLINT_MAX:
        raise AnswerInvalid(ERR_ATTEMPT_NUMBER.format(high=SMALLINT_MAX))
    now = now or timezone.now()
    # A teacher's attempts at one assessment are a handful: one read answers "resume" (this
    # number exists, in any state), "running" and "how many taken". A start that races
    # with this read is settled by the unique constraint below.
    mine = rows_fetch(Attempt, "user_id = %s AND assessment_id = %s", [user.pk, assessment_id])
    for attempt in mine:
        if attempt.number == number:
            return attempt
    window = selectors.assignment_open_for(user=user, assessment_id=assessment_id, now=now)
    if window is None:
        raise AssessmentNotAvailable(ERR_NOT_AVAILABLE)
    for attempt in mine:
        if attempt.is_running(now):
            return attempt
    taken = len(mine)
    if taken >= window.max_attempts:
        raise AttemptRefused(ERR_NO_ATTEMPTS_LEFT)
    if number != taken + 1:
        raise AttemptRefused(ERR_WRONG_ATTEMPT_NUMBER.format(expected=taken + 1, given=number))
    factor = window.extra_time_factor or Decimal(1)
    try:
        with transaction.atomic(durable=True):
            attempt = Attempt(
                user=user,
                assessment_id=window.assessment_id,
                assignment_id=window.assignment_id,
                number=number,
                started_at=now,
                deadline=attempt_deadline(
                    started_at=now,
                    time_limit_minutes=window.time_limit_minutes,
                    factor=factor,
                    closes_at=window.closes_at,
                ),
            )
            row_insert(attempt)
            auto_submit_schedule(attempt)
    except IntegrityError:  # a concurrent start won the race: same attempt for both
        return Attempt.objects.get(user=user, assessment_id=assessment_id, number=number)
    return attempt
