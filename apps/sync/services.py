"""Writes for sync. `outbox_event_record` is what other apps call, inside their own
transaction, to publish an event."""

import hashlib
import json

from django.db import transaction

from apps.sync.models import OutboxEvent

ERR_OUTSIDE_TRANSACTION = (
    "outbox_event_record must run inside the transaction of the change it publishes."
)


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
    domain change, so an event is never lost and never published for a change that failed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(ERR_OUTSIDE_TRANSACTION)
    return OutboxEvent.objects.create(
        connector=connector,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_key=aggregate_key,
        payload=payload,
        payload_hash=payload_hash(payload),
        priority=priority,
    )
