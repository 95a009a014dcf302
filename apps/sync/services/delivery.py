"""Delivery: claim due rows with `FOR UPDATE SKIP LOCKED` and a lease, coalesce them per key,
send the latest state through the connector (one PUT, or one POST the first time), and
settle them: delivered, retried with backoff, or dead (a dead letter waits for staff)."""

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from apps.core.backoff import full_jitter
from apps.sync import selectors
from apps.sync.connector import (
    NotFoundError,
    ObjectMapping,
    RecordsClient,
    RejectedError,
    TransientError,
    connector_config,
)
from apps.sync.models import OutboxEvent, RemoteLink
from apps.sync.ratelimit import BudgetExhausted, CoolingDown
from apps.sync.services.outbox import drain_job_timeout, outbox_kicks_forget, payload_hash

ERR_LEASE_EXPIRED = "Lease expired (worker killed or stalled): requeued."
ERR_NOT_CONFIGURED = "not configured: events stay pending"
ERR_PAUSED = "paused"

Status = OutboxEvent.Status


# --- Claiming ------------------------------------------------------------------------------
def outbox_reclaim(*, now: datetime | None = None) -> int:
    """In-flight rows whose lease expired go back to pending (not an attempt)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        return OutboxEvent.objects.filter(status=Status.IN_FLIGHT, lease_expires_at__lt=now).update(
            status=Status.PENDING,
            next_attempt_at=now,
            lease_expires_at=None,
            leased_by="",
            last_error=ERR_LEASE_EXPIRED,
        )


def outbox_claim(*, connector: str, limit: int, now: datetime | None = None):
    """Lease the due rows of up to `limit` keys that no one else is delivering: live before
    backfill, oldest first. Returns (lease token, [rows of one key, oldest first], ...)."""
    now = now or timezone.now()
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    busy = OutboxEvent.objects.filter(
        connector=connector, aggregate_key=OuterRef("aggregate_key"), status=Status.IN_FLIGHT
    )
    with transaction.atomic(durable=True):
        candidates = (
            OutboxEvent.objects.filter(
                ~Exists(busy),
                connector=connector,
                status__in=selectors.DUE_STATUSES,
                next_attempt_at__lte=now,
            )
            .order_by("priority", "next_attempt_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("aggregate_key", flat=True)[: limit * 3]
        )
        keys = list(dict.fromkeys(candidates))[:limit]
        if not keys:
            return token, []
        # One claimer per key: a transaction-scoped advisory lock, then a fresh look at
        # in-flight rows (a claimer that committed just before us is visible now).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT k FROM unnest(%s::text[]) AS k"
                " WHERE pg_try_advisory_xact_lock(hashtextextended(%s || k, 0))",
                [keys, f"{connector}:"],
            )
            keys = [row[0] for row in cursor.fetchall()]
        taken = set(
            OutboxEvent.objects.filter(
                connector=connector, aggregate_key__in=keys, status=Status.IN_FLIGHT
            ).values_list("aggregate_key", flat=True)
        )
        OutboxEvent.objects.filter(
            connector=connector,
            aggregate_key__in=[key for key in keys if key not in taken],
            status__in=selectors.DUE_STATUSES,
        ).update(
            status=Status.IN_FLIGHT,
            lease_expires_at=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS),
            leased_by=token,
        )
    groups: dict[str, list[OutboxEvent]] = {}
    for row in OutboxEvent.objects.filter(leased_by=token, status=Status.IN_FLIGHT).order_by("pk"):
        groups.setdefault(row.aggregate_key, []).append(row)
    return token, list(groups.values())


# --- Delivery ------------------------------------------------------------------------------
@dataclass
class DrainResult:
    delivered: int = 0
    coalesced: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    more: bool = False  # stopped for time with rows left: the job enqueues a successor
    stopped: str = ""


def backoff_seconds(attempts: int) -> float:
    """The wait after the `attempts`-th failed try: capped exponential, full jitter."""
    return full_jitter(
        attempts - 1,
        base=settings.SYNC_BACKOFF_BASE_SECONDS,
        cap=settings.SYNC_BACKOFF_MAX_SECONDS,
    )


def _settle(rows: list[OutboxEvent], token: str, **values) -> int:
    """Update rows we still hold (a row whose lease was reclaimed is someone else's now)."""
    return OutboxEvent.objects.filter(
        pk__in=[row.pk for row in rows], leased_by=token, status=Status.IN_FLIGHT
    ).update(lease_expires_at=None, leased_by="", **values)


def _remote_send(client: RecordsClient, mapping: ObjectMapping, key: str, fields: dict) -> None:
    """One PUT when the remote id is known, else one POST; after a POST whose answer was
    lost (a link without an id), look the record up by our key before creating another."""
    link, created = RemoteLink.objects.get_or_create(
        connector=client.config.name,
        aggregate_key=key,
        defaults={"remote_object": mapping.remote_object},
    )
    remote_id = ""
    if link.remote_id:
        try:
            client.update(link.remote_object, link.remote_id, fields)
            remote_id = link.remote_id
        except NotFoundError:  # deleted at the remote: create it again
            link.remote_id = ""
            link.save(update_fields=["remote_id"])
    elif not created and (found := client.find(mapping, key)):
        client.update(mapping.remote_object, found, fields)
        remote_id = found
    link.remote_id = remote_id or client.create(mapping.remote_object, fields)
    link.remote_object = mapping.remote_object
    link.fields_hash = payload_hash(fields)
    link.updated_at = timezone.now()
    link.save(update_fields=["remote_id", "remote_object", "fields_hash", "updated_at"])


def _deliver_group(client: RecordsClient, token: str, rows: list[OutboxEvent], result) -> None:
    """Send the latest state of one key; older rows are coalesced into it."""
    latest, older = rows[-1], rows[:-1]
    now = timezone.now()
    try:
        mapping = client.config.object_for(latest.aggregate_type)
        _remote_send(client, mapping, latest.aggregate_key, mapping.to_fields(latest.payload))
    except TransientError as error:
        attempts = latest.attempts + 1
        dead = attempts >= settings.SYNC_MAX_ATTEMPTS
        _settle(
            rows,
            token,
            status=Status.DEAD if dead else Status.FAILED,
            attempts=F("attempts") + 1,
            next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
            last_error=str(error),
            **client.last_exchange(),
        )
        result.dead += dead
        result.failed += not dead
        return
    except (RejectedError, LookupError) as error:
        _settle(
            rows,
            token,
            status=Status.DEAD,
            attempts=F("attempts") + 1,
            last_error=str(error),
            **client.last_exchange(),
        )
        result.dead += 1
        return
    with transaction.atomic():
        _settle(
            [latest],
            token,
            status=Status.DELIVERED,
            delivered_at=now,
            attempts=F("attempts") + 1,
            last_error="",
            **client.last_exchange(),
        )
        result.coalesced += _settle(
            older, token, status=Status.DELIVERED, delivered_at=now, superseded_by=latest
        )
    result.delivered += 1


def outbox_drain(*, connector: str) -> DrainResult:
    """Deliver due rows of a connector until none is left or half the job timeout is spent.

    Stops (rows stay pending) when the connector is not configured or paused, when the
    remote asks for a long cooldown, or when the daily budget is spent."""
    config = connector_config(connector)
    result = DrainResult()
    if not config.configured:
        result.stopped = ERR_NOT_CONFIGURED
        return result
    outbox_reclaim()
    started = time.monotonic()
    budget = drain_job_timeout() / 2
    # Stop before the job timeout, leaving room for one more remote call.
    hard_stop = started + max(budget, drain_job_timeout() - settings.SYNC_HTTP_TIMEOUT - 1)
    client = RecordsClient(config)
    rechecked = False
    try:
        while True:
            if time.monotonic() - started > budget:
                result.more = True
                break
            if selectors.connector_is_paused(connector=connector):
                result.stopped = ERR_PAUSED
                break
            token, groups = outbox_claim(connector=connector, limit=settings.SYNC_BATCH_SIZE)
            if not groups:
                if rechecked:
                    break
                # Let the next commit kick new jobs, then look once more: an event whose
                # kick was deduplicated against us committed before this delete.
                outbox_kicks_forget(connector=connector)
                rechecked = True
                continue
            if _deliver_groups(client, token, groups, result, hard_stop):
                break
    finally:
        client.close()
    return result


def _deliver_groups(client, token, groups, result: DrainResult, hard_stop: float) -> bool:
    """Deliver claimed groups; on a pause or at the hard stop, release the rest. Returns
    True when the drain must stop."""
    for index, rows in enumerate(groups):
        pause = None
        if time.monotonic() > hard_stop:
            result.more = True
        else:
            try:
                _deliver_group(client, token, rows, result)
                continue
            except (CoolingDown, BudgetExhausted) as error:
                pause, result.stopped = error, str(error)
        retry_at = timezone.now() + timedelta(seconds=pause.retry_in if pause else 0)
        for rest in groups[index:]:
            result.deferred += _settle(
                rest,
                token,
                status=Status.PENDING,
                next_attempt_at=retry_at,
                last_error=str(pause or ""),
            )
        return True
    return False
