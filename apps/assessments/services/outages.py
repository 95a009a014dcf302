"""Automatic time credit for server-side outages: a gap in the web heartbeat (apps/core/
heartbeat.py) longer than ASSESSMENTS_OUTAGE_MIN_SECONDS is recorded as a ServiceOutage and,
once, every attempt that was running through it gets the gap's length, in whole minutes
rounded up and at most ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS. Run by the first web beat
after the gap (apps/core/heartbeat.py), and by the recovery sweep inside the workers
(apps/core/recovery.py) before it submits expired attempts. Until then, a late save of an
attempt owed a credit is told to come again (attempt_credit_pending), not refused.

Who gets it: an attempt started before the gap ended whose deadline was after the gap
began, and
- still in progress: its deadline moves by the credit (incidents.adjustments_extend);
- submitted automatically (its deadline came during the gap, or before the credit was
  given): re-opened until its old deadline plus the credit, as staff would re-open it
  (incidents.adjustment_reopen: only automatic submits are re-opened);
- submitted by the teacher: nothing (they chose to finish).
An attempt whose deadline plus the credit has passed already gains nothing and is left
alone. Each gets one AttemptAdjustment of kind "outage" by no one (the system), unique per
attempt and outage. A teacher's own lost connection leaves no gap in the server's heartbeat,
so it earns nothing.

Exactly once: the outage row is claimed with SELECT ... FOR UPDATE SKIP LOCKED and marked
credited in the same transaction as the credit, so two sweeps never credit it twice."""

import math
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.assessments.models import Attempt, AttemptAdjustment
from apps.assessments.services.incidents import adjustment_reopen, adjustments_extend
from apps.core.heartbeat import (
    HISTORY,
    heartbeat_running,
    service_gaps,
    service_latest,
    silence_seconds,
)
from apps.core.models import ServiceOutage

# Stored in the audit row (the teacher's page words it from the row's kind, translated).
OUTAGE_REASON = "Service interruption {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC"
# After the web's heartbeat resumes, how long a late save waits for the credit (503, tried
# again) rather than being refused: the first beat credits at once, the workers' sweep within
# RECOVERY_INTERVAL_SECONDS if that failed.
RECOVERING = timedelta(minutes=1)


def _credit_minutes(seconds: float) -> int:
    return max(1, math.ceil(min(seconds, settings.ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS) / 60))


def outage_credit_minutes(outage: ServiceOutage) -> int:
    return _credit_minutes(outage.seconds)


def attempt_credit_pending(
    *, status: str, auto_submitted: bool, started_at: datetime, deadline: datetime, now: datetime
) -> bool:
    """Is an attempt past its deadline (still in progress, or submitted automatically) owed
    a credit that has not been given yet, because the service has only just come back?
    So: the web heartbeat is silent for longer than the minimum and this process beats
    (its next beat ends the silence and credits it, heartbeat.outages_credit_now), or its
    latest interval began within RECOVERING after such a silence that is not credited yet;
    and the attempt ran through that gap and the credit would still give it time. Then a
    save, a timer check or a reload is to be tried again in a few seconds, not refused for
    good. 0-2 queries, only for a save already refused as late, a timer at zero or the
    result page of an attempt submitted automatically."""
    if deadline > now or not (status == Attempt.Status.IN_PROGRESS or auto_submitted):
        return False
    most = timedelta(minutes=_credit_minutes(settings.ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS))
    if deadline <= now - most:
        return False  # no credit reaches now: no query (a result page long after)
    latest = service_latest()
    if latest is None:
        return False
    before, started, seen = latest
    if now - seen > timedelta(seconds=silence_seconds()):  # no beat lately: the gap is open
        if not heartbeat_running("web"):
            return False  # nothing here will end it (runserver, heartbeat off)
        gap_start, gap_end = seen, now
    elif before is not None and now - started <= RECOVERING:
        gap_start, gap_end = before, started
    else:
        return False
    gap = (gap_end - gap_start).total_seconds()
    if gap <= settings.ASSESSMENTS_OUTAGE_MIN_SECONDS:
        return False
    extra = timedelta(minutes=_credit_minutes(gap))
    if not (started_at < gap_end and deadline > max(gap_start, now - extra)):
        return False
    return (
        gap_end == now
        or not ServiceOutage.objects.filter(
            started_at=gap_start, credited_at__isnull=False
        ).exists()
    )


def outages_record(*, now: datetime | None = None) -> int:
    """Record the heartbeat's closed gaps longer than the minimum (each once: the gap's
    start is unique); returns how many gaps were found."""
    now = now or timezone.now()
    gaps = service_gaps(since=now - HISTORY, longer_than=settings.ASSESSMENTS_OUTAGE_MIN_SECONDS)
    ServiceOutage.objects.bulk_create(
        [ServiceOutage(started_at=start, ended_at=end) for start, end in gaps],
        ignore_conflicts=True,
    )
    return len(gaps)


def _outage_credit(outage: ServiceOutage, *, now: datetime) -> int:
    """In the caller's transaction, the outage claimed: credit its attempts."""
    minutes = outage_credit_minutes(outage)
    extra = timedelta(minutes=minutes)
    through = (
        Attempt.objects.filter(
            started_at__lt=outage.ended_at,
            deadline__gt=max(outage.started_at, now - extra),  # else the credit is spent
        )
        .exclude(adjustments__outage=outage)
        # NO KEY: the teachers' answer saves (FOR KEY SHARE), all resending at once after
        # the outage, go on while their deadlines move; a submit still waits for us.
        .select_for_update(of=("self",), no_key=True)
        .order_by("pk")
    )
    reason = OUTAGE_REASON.format(
        start=outage.started_at.astimezone(UTC), end=outage.ended_at.astimezone(UTC)
    )

    def row(attempt: Attempt) -> AttemptAdjustment:
        return AttemptAdjustment(
            attempt=attempt,
            kind=AttemptAdjustment.Kind.OUTAGE,
            minutes=minutes,
            reason=reason,
            by=None,
            outage=outage,
            old_deadline=attempt.deadline,
            new_deadline=attempt.deadline + extra,
        )

    running = [row(attempt) for attempt in through.filter(status=Attempt.Status.IN_PROGRESS)]
    adjustments_extend(running, extra=extra)
    # An attempt the teacher has moved on from (they started their next one) stays submitted:
    # re-opening it would leave two running.
    moved_on = Attempt.objects.filter(
        user=OuterRef("user"), assessment=OuterRef("assessment"), number__gt=OuterRef("number")
    )
    reopened = through.filter(status=Attempt.Status.SUBMITTED, auto_submitted=True).exclude(
        Exists(moved_on)
    )
    count = len(running)
    for attempt in reopened:
        adjustment_reopen(row(attempt))
        count += 1
    outage.credited_at = now
    outage.attempts_credited = count
    outage.save(update_fields=["credited_at", "attempts_credited"])
    return count


def outages_credit(*, now: datetime | None = None) -> int:
    """The recovery sweep's step: record new gaps, then credit every outage not yet
    credited, each in its own transaction. Returns the attempts credited."""
    now = now or timezone.now()
    outages_record(now=now)
    credited = 0
    while True:
        with transaction.atomic(durable=True):
            outage = (
                ServiceOutage.objects.select_for_update(skip_locked=True)
                .filter(credited_at=None)
                .order_by("started_at")
                .first()
            )
            if outage is None:
                return credited
            credited += _outage_credit(outage, now=now)
