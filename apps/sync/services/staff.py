"""Staff tools (admin actions and management commands): replay, mark dead, pause."""

from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from apps.core.outage import after_commit
from apps.sync import selectors
from apps.sync.connector import connector_config
from apps.sync.models import ConnectorState, OutboxEvent
from apps.sync.services.outbox import outbox_kick

ERR_MARKED_DEAD = "Marked dead by staff."
NOTE_REPLAYED = "Replayed by staff."

Status = OutboxEvent.Status


def outbox_replay(
    *,
    ids=None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    connector: str | None = None,
    dry_run: bool = False,
) -> int:
    """Send again the latest state of every key touched by the selected events (replaying
    an old, superseded event would send a stale state). In-flight rows are left alone."""
    selected = OutboxEvent.objects.all()
    if ids:
        selected = selected.filter(pk__in=list(ids))
    if status:
        selected = selected.filter(status=status)
    if since:
        selected = selected.filter(created_at__gte=since)
    if until:
        selected = selected.filter(created_at__lt=until)
    if connector:
        selected = selected.filter(connector=connector)
    replayed = 0
    with transaction.atomic(durable=True):
        for name in selected.values_list("connector", flat=True).distinct():
            keys = selected.filter(connector=name).values_list("aggregate_key", flat=True)
            latest = [
                event.pk
                for event in selectors.outbox_latest_events(connector=name, keys=set(keys))
                if event.status != Status.IN_FLIGHT
            ]
            replayed += len(latest)
            if dry_run:
                continue
            OutboxEvent.objects.filter(pk__in=latest).update(
                status=Status.PENDING,
                next_attempt_at=timezone.now(),
                superseded_by=None,
                delivered_at=None,
                last_error=NOTE_REPLAYED,
            )
            after_commit(partial(outbox_kick, connector=name, force=True))
    return replayed


def outbox_mark_dead(*, ids, dry_run: bool = False) -> int:
    """Give up on pending/failed events (in-flight ones are a worker's; delivered ones are
    done)."""
    with transaction.atomic(durable=True):
        rows = OutboxEvent.objects.filter(pk__in=list(ids), status__in=selectors.DUE_STATUSES)
        if dry_run:
            return rows.count()
        return rows.update(status=Status.DEAD, last_error=ERR_MARKED_DEAD)


def connector_pause(*, connector: str, paused: bool, reason: str = "") -> ConnectorState:
    connector_config(connector)  # unknown names fail loudly
    with transaction.atomic(durable=True):
        state, _ = ConnectorState.objects.select_for_update().get_or_create(connector=connector)
        state.paused, state.reason, state.updated_at = paused, reason, timezone.now()
        state.save(update_fields=["paused", "reason", "updated_at"])
    if not paused:
        outbox_kick(connector=connector, force=True)
    return state
