"""A grace for answers held up by us: an answer that arrives after its attempt's deadline is
still saved when all of these hold, and refused as before otherwise:

- it arrives at most ASSESSMENTS_GRACE_SECONDS after the deadline (the server's clock);
- the browser says it queued the answer before the deadline: the page's queue records the
  time left on the teacher's timer when the answer was given and sends it
  (`queued_left_ms`) with a save it is sending again after a failure;
- the server's own heartbeat (apps/core/heartbeat.py) shows the service failing at that
  time (no web process could write its beat then), and still failing just before the
  deadline (had it come back earlier, the page's retries would have got the answer in);
- the attempt is still in progress: its auto-submit has not run yet (it fails too while
  PostgreSQL is down, and the sweep submits it once the service is back). An attempt
  already submitted automatically is not opened again for a grace answer: when the
  service was down long enough to matter, the outage credit (services/outages.py)
  re-opens it with the lost time, and the teacher answers again.

The browser's word only places the answer inside a failure the server recorded itself and
that lasted until the deadline; the answer's saved time is the server's, and nothing is
taken after deadline + grace. So a made-up queued time gains nothing unless the service
itself was down at the end of the teacher's time, and then at most the grace.

Only the refusal branch of the answer save comes here (answers.answer_save): the hot path
gets no query more."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from apps.assessments.models import Answer, Attempt
from apps.core.heartbeat import service_failing_at, silence_seconds
from apps.core.input import parse_int

log = logging.getLogger(__name__)

QUEUED_LEFT_MAX_MS = 10**10  # a field of ten digits at most; more is no timer


def queued_at(*, deadline: datetime, queued_left_ms: str) -> datetime | None:
    """When the answer was queued, by the teacher's timer: None unless before the deadline."""
    try:
        left = parse_int(queued_left_ms, minimum=1, maximum=QUEUED_LEFT_MAX_MS)
    except ValueError:
        return None
    return deadline - timedelta(milliseconds=left)


def _held_up(queued: datetime, attempt: Attempt) -> bool:
    """The service was failing when the answer was queued, and still (or again) just before
    the deadline: had it come back earlier, the page's retries (every few seconds) would
    have got the answer in on time."""
    near_deadline = attempt.deadline - timedelta(seconds=silence_seconds())
    return service_failing_at(queued) and service_failing_at(max(queued, near_deadline))


def answer_save_late(
    *,
    user,
    attempt_id: int,
    version: int,
    question_id: int,
    clean,
    queued_left_ms: str,
    now: datetime,
) -> tuple[datetime, int, int] | None:
    """Save a late answer that qualifies for the grace: the row the save statement would
    have returned (deadline, answered count, 1), or None: not in grace, refuse it."""
    grace = timedelta(seconds=settings.ASSESSMENTS_GRACE_SECONDS)
    with transaction.atomic(durable=True):
        attempt = next(
            iter(
                Attempt.objects.select_for_update(of=("self",))
                .filter(
                    pk=attempt_id,
                    user=user,
                    status=Attempt.Status.IN_PROGRESS,
                    assessment__version=version,
                )
                .order_by()
            ),
            None,
        )
        if attempt is None or not attempt.deadline <= now <= attempt.deadline + grace:
            return None
        queued = queued_at(deadline=attempt.deadline, queued_left_ms=queued_left_ms)
        if queued is None or queued < attempt.started_at or not _held_up(queued, attempt):
            return None
        Answer.objects.update_or_create(
            attempt=attempt,
            question_id=question_id,
            defaults={
                "choice_ids": clean.choice_ids,
                "value": clean.value,
                "text": clean.text,
                "flagged": clean.flagged,
                "answered": clean.answered,
                "saved_at": now,
            },
        )
        answered = Answer.objects.filter(attempt=attempt, answered=True).count()
    log.info(
        "grace: attempt %s question %s saved %.1f s after the deadline, queued %.1f s before "
        "it while the service was failing",
        attempt_id,
        question_id,
        (now - attempt.deadline).total_seconds(),
        (attempt.deadline - queued).total_seconds(),
    )
    return attempt.deadline, answered, 1
