"""The one recovery mechanism for durable work: a sweep that every worker arms by itself.

Every piece of durable work has a PostgreSQL row (an attempt with a deadline, a triage job,
an outbox event); its RQ job is only a fast path that Redis may lose (restart, FLUSHALL) and
a job may fail (PostgreSQL restarting). The sweep finds what is due or stale and runs it
again, idempotently: gaps in the service's heartbeat are credited to the attempts that ran
through them (apps/assessments/services/outages.py), attempts past their deadline are
submitted, triage that nothing will run is requeued, expired outbox leases are reclaimed and
due rows kicked, and old heartbeat intervals are forgotten.

Each worker enqueues the sweep once per RECOVERY_INTERVAL_SECONDS slot from its own loop
(apps.core.worker), under a job id unique to the slot, so several workers run it once and
nothing stored in Redis (a scheduled chain, RQ's Repeat, a cron entry) has to survive for
it to come back. A step that fails is logged in one line and redone by the next sweep.
"""

from __future__ import annotations

import contextlib
import logging
import time

from django.conf import settings
from django.db import connection
from rq.exceptions import DuplicateJobError

from apps.core.queues import get_queue

log = logging.getLogger(__name__)

JOB = "apps.core.jobs.recovery_sweep"
QUEUE = "high"
# pg_try_advisory_lock key: two sweeps never overlap, even when one outlives its slot.
ADVISORY_LOCK_KEY = 0x5EC0_7E41


def recovery_slot(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // settings.RECOVERY_INTERVAL_SECONDS)


def recovery_arm(*, slot: int) -> bool:
    """Enqueue the sweep of this slot unless a worker already did; True if this call did.
    The job id stays taken for two intervals, so a finished sweep is not run twice."""
    keep = settings.RECOVERY_INTERVAL_SECONDS * 2
    try:
        # Now, not after a commit: the answer (armed or not) is needed here.
        get_queue(QUEUE, commit_mode="auto").enqueue(
            JOB,
            job_id=f"recovery-{slot}",
            unique=True,
            at_front=True,  # behind a backlog, recovery would come late
            result_ttl=keep,
            failure_ttl=keep,
            job_timeout=settings.RECOVERY_JOB_TIMEOUT_SECONDS,
        )
    except DuplicateJobError:
        return False
    return True


@contextlib.contextmanager
def _sweep_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _steps():
    from apps.assessments.services import attempts_submit_expired, outages_credit
    from apps.complaints.services import triage_requeue_stale
    from apps.core.heartbeat import heartbeats_prune
    from apps.sync.services import outbox_requeue

    return (
        # Before the submits: an attempt whose deadline fell in an outage gets its time
        # instead of being submitted and re-opened.
        ("attempts credited for an outage", outages_credit),
        ("attempts submitted", attempts_submit_expired),
        ("triage requeued", lambda: len(triage_requeue_stale())),
        ("outbox leases reclaimed", lambda: outbox_requeue(force=False)[0]),
        ("heartbeat intervals pruned", heartbeats_prune),
    )


def recovery_sweep() -> dict[str, int | str]:
    """One pass over every kind of durable work; returns what each step did."""
    done: dict[str, int | str] = {}
    with _sweep_lock() as acquired:
        if not acquired:
            return {"skipped": "another sweep is running"}
        for name, step in _steps():
            try:
                done[name] = step()
            except Exception as error:  # e.g. PostgreSQL restarting: the next sweep redoes it
                log.warning("recovery: %s failed (%s); the next sweep retries", name, error)
                done[name] = "failed"
    if any(done.values()):
        log.info("recovery: %s", ", ".join(f"{name}: {value}" for name, value in done.items()))
    return done
