"""Publishing: `outbox_event_record` writes an event in the caller's transaction; on commit
it kicks delivery jobs, and every kick makes sure the periodic sweep is scheduled."""

import hashlib
import json
import time
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from rq.exceptions import DuplicateJobError

from apps.core.db import require_transaction, row_insert
from apps.core.outage import after_commit
from apps.core.queues import get_queue, queue_redis
from apps.sync.connector import connector_config, connector_names
from apps.sync.models import OutboxEvent

ERR_OUTSIDE_TRANSACTION = (
    "outbox_event_record must run inside the transaction of the change it publishes."
)

QUEUE_BY_PRIORITY = {OutboxEvent.Priority.LIVE: "high", OutboxEvent.Priority.BACKFILL: "low"}
KICK_DEDUPE_SECONDS = 1
DRAIN_JOB = "apps.sync.jobs.outbox_deliver"
SWEEP_JOB = "apps.sync.jobs.outbox_sweep"


def payload_hash(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def outbox_event_record(
    *,
    event_type: str,
    aggregate_type: str,
    aggregate_key: str,
    payload: dict,
    connector: str = "records",
    priority: int = OutboxEvent.Priority.LIVE,
) -> OutboxEvent:
    """Write an outbox row in the caller's transaction: it commits or rolls back with the
    domain change, so an event is never lost and never published for a change that failed.
    After the commit, delivery jobs are kicked (a lost kick is caught by the sweep)."""
    require_transaction(ERR_OUTSIDE_TRANSACTION)
    event = OutboxEvent(
        connector=connector,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_key=aggregate_key,
        payload=payload,
        payload_hash=payload_hash(payload),
        priority=priority,
    )
    row_insert(event)
    after_commit(partial(outbox_kick, connector=connector, priority=priority))
    return event


# --- Jobs: kicks and the periodic sweep --------------------------------------------------
def _redis():
    return queue_redis("default")


def _kick_key(connector: str, priority: int) -> str:
    return f"sync:{connector}:kick:{priority}"


def outbox_kicks_forget(*, connector: str) -> None:
    """Let the next commit kick new jobs at once (its kick is no longer deduplicated)."""
    _redis().delete(*(_kick_key(connector, p) for p in QUEUE_BY_PRIORITY))


def drain_job_timeout() -> int:
    """Shorter than the lease: a job never outlives the rows it claimed."""
    return max(1, int(settings.SYNC_LEASE_SECONDS * 0.8))


def outbox_kick(
    *,
    connector: str,
    priority: int = OutboxEvent.Priority.LIVE,
    force: bool = False,
    jobs: int | None = None,
) -> int:
    """Enqueue delivery jobs for a connector (SYNC_DRAIN_JOBS unless `jobs`; queue high for
    live events, low for backfill), at most once a second unless forced; returns how many.
    An unknown or unconfigured connector gets none: its events wait, pending."""
    if connector not in connector_names() or not connector_config(connector).configured:
        return 0
    if not force and not _redis().set(
        _kick_key(connector, priority), 1, nx=True, ex=KICK_DEDUPE_SECONDS
    ):
        return 0
    queue = get_queue(QUEUE_BY_PRIORITY[priority])
    count = settings.SYNC_DRAIN_JOBS if jobs is None else jobs
    for _ in range(count):
        queue.enqueue(
            DRAIN_JOB,
            connector=connector,
            priority=priority,
            job_timeout=drain_job_timeout(),
            result_ttl=60,
        )
    outbox_sweep_schedule()
    return count


def outbox_sweep_schedule() -> bool:
    """Schedule the next sweep in RQ's scheduler (`rqworker --with-scheduler`). One job per
    time slot (a unique job id), so every caller may ask and chains merge into one."""
    interval = settings.SYNC_SWEEP_SECONDS
    slot = int(time.time() // interval) + 1
    try:
        get_queue("default").enqueue_at(
            datetime.fromtimestamp(slot * interval, tz=UTC),
            SWEEP_JOB,
            job_id=f"sync-sweep-{slot}",
            unique=True,
            result_ttl=interval * 2,
        )
    except DuplicateJobError:
        return False
    return True
