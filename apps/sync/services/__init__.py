"""Writes for sync, by concern: `outbox` records events (what other apps call, inside their
own transaction) and kicks delivery jobs; `delivery` claims rows with `FOR UPDATE SKIP
LOCKED` and a lease, coalesces them per key and sends the latest state through the
connector; `staff` holds the staff tools (replay, mark dead, pause); `reconcile` pages
through the remote (compare and repair, import) and requeues what the workers lost.

Callers import from here; the modules are an internal layout."""

from apps.sync.services.delivery import (
    ERR_LEASE_EXPIRED,
    ERR_NOT_CONFIGURED,
    ERR_PAUSED,
    DrainResult,
    backoff_seconds,
    outbox_claim,
    outbox_drain,
    outbox_reclaim,
)
from apps.sync.services.outbox import (
    ERR_OUTSIDE_TRANSACTION,
    QUEUE_BY_PRIORITY,
    drain_job_timeout,
    outbox_event_record,
    outbox_kick,
    outbox_sweep_schedule,
    payload_hash,
)
from apps.sync.services.reconcile import (
    PagedResult,
    outbox_reconcile_compare,
    outbox_requeue,
    remote_records_import,
)
from apps.sync.services.staff import (
    ERR_MARKED_DEAD,
    NOTE_REPLAYED,
    connector_pause,
    outbox_mark_dead,
    outbox_replay,
)

__all__ = [
    "ERR_LEASE_EXPIRED",
    "ERR_MARKED_DEAD",
    "ERR_NOT_CONFIGURED",
    "ERR_OUTSIDE_TRANSACTION",
    "ERR_PAUSED",
    "NOTE_REPLAYED",
    "QUEUE_BY_PRIORITY",
    "DrainResult",
    "PagedResult",
    "backoff_seconds",
    "connector_pause",
    "drain_job_timeout",
    "outbox_claim",
    "outbox_drain",
    "outbox_event_record",
    "outbox_kick",
    "outbox_mark_dead",
    "outbox_reclaim",
    "outbox_reconcile_compare",
    "outbox_replay",
    "outbox_requeue",
    "outbox_sweep_schedule",
    "payload_hash",
    "remote_records_import",
]
