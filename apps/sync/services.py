"""Writes for sync. `outbox_event_record` is what other apps call, inside their own
transaction, to publish an event; on commit it kicks delivery jobs. Delivery claims rows with
`FOR UPDATE SKIP LOCKED` and a lease, coalesces them per key, and sends the latest state
through the connector (one PUT, or one POST the first time)."""

import hashlib
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from rq.exceptions import DuplicateJobError

from apps.core.outage import after_commit
from apps.core.replica import reads_may_lag
from apps.sync import selectors
from apps.sync.connector import (
    ConnectorConfig,
    NotFoundError,
    ObjectMapping,
    RecordsClient,
    RejectedError,
    TransientError,
    connector_config,
    connector_names,
)
from apps.sync.models import ConnectorState, OutboxEvent, RemoteLink, RemoteRecord
from apps.sync.ratelimit import BudgetExhausted, CoolingDown

ERR_OUTSIDE_TRANSACTION = (
    "outbox_event_record must run inside the transaction of the change it publishes."
)
ERR_LEASE_EXPIRED = "Lease expired (worker killed or stalled): requeued."
ERR_NOT_CONFIGURED = "not configured: events stay pending"
ERR_PAUSED = "paused"
ERR_MARKED_DEAD = "Marked dead by staff."
NOTE_REPLAYED = "Replayed by staff."

Status = OutboxEvent.Status
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
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(ERR_OUTSIDE_TRANSACTION)
    event = OutboxEvent.objects.create(
        connector=connector,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_key=aggregate_key,
        payload=payload,
        payload_hash=payload_hash(payload),
        priority=priority,
    )
    after_commit(partial(outbox_kick, connector=connector, priority=priority))
    return event


# --- Jobs: kicks and the periodic sweep --------------------------------------------------
def _redis():
    return django_rq.get_connection("default")


def _kick_key(connector: str, priority: int) -> str:
    return f"sync:{connector}:kick:{priority}"


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
    queue = django_rq.get_queue(QUEUE_BY_PRIORITY[priority])
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
        django_rq.get_queue("default").enqueue_at(
            datetime.fromtimestamp(slot * interval, tz=UTC),
            SWEEP_JOB,
            job_id=f"sync-sweep-{slot}",
            unique=True,
            result_ttl=interval * 2,
        )
    except DuplicateJobError:
        return False
    return True


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
    """Capped exponential backoff with full jitter."""
    cap = settings.SYNC_BACKOFF_MAX_SECONDS
    return random.uniform(0, min(cap, settings.SYNC_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)))


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
                _redis().delete(*(_kick_key(connector, p) for p in QUEUE_BY_PRIORITY))
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


# --- Staff actions ---------------------------------------------------------------------
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


def outbox_requeue(*, connector: str | None = None, force: bool = True) -> tuple[int, int]:
    """The reclaim step of sync_reconcile: expired leases back to pending, then kick every
    connector with due rows, and make sure the periodic sweep is scheduled (so running
    `sync_reconcile` once at start-up is enough after Redis lost its jobs). Returns
    (reclaimed rows, jobs enqueued)."""
    reclaimed = outbox_reclaim()
    jobs = 0
    for name, priority in selectors.connectors_with_due_rows():
        if connector in (None, name):
            jobs += outbox_kick(connector=name, priority=priority, force=force)
    outbox_sweep_schedule()
    return reclaimed, jobs


# --- Reconcile and import: paging through the remote ---------------------------------------
@dataclass
class PagedResult:
    pages: int = 0
    records: int = 0
    created: int = 0  # import: new local rows
    differing: int = 0  # compare: remote record differs from what we delivered
    missing: int = 0  # compare: we hold a link, the remote has no such record
    repairs: int = 0  # compare: repair events queued
    stopped: str = ""


def _remote_pages(config: ConnectorConfig, result: PagedResult, on_page: Callable | None):
    """(mapping, records) page by page over every mapped object; staff calls may use the
    daily reserve, and stop cleanly when the budget or a long cooldown says so."""
    client = RecordsClient(config, daily_reserve=0)
    try:
        for mapping in config.objects():
            for page, total, records in client.pages(mapping.remote_object):
                result.pages += 1
                result.records += len(records)
                if on_page:
                    on_page(mapping.remote_object, page, total)
                yield mapping, records
    except (CoolingDown, BudgetExhausted) as error:
        result.stopped = str(error)
    finally:
        client.close()


def outbox_reconcile_compare(
    *, connector: str, dry_run: bool = False, on_page: Callable | None = None
) -> PagedResult:
    """Page through the remote and queue a backfill repair (the latest state we hold) for
    every key whose remote record differs from the payload hash we delivered, or is gone."""
    config = connector_config(connector)
    result = PagedResult()
    to_repair: set[str] = set()
    seen: set[str] = set()
    for mapping, records in _remote_pages(config, result, on_page):
        by_key = {str(r.get(mapping.key_field)): r for r in records if r.get(mapping.key_field)}
        seen.update(by_key)
        # Links a moment old (a replica) cost at worst a repair too many, or one a run later.
        with reads_may_lag():
            links = list(RemoteLink.objects.filter(connector=connector, aggregate_key__in=by_key))
        for link in links:
            if payload_hash(mapping.from_record(by_key[link.aggregate_key])) != link.fields_hash:
                to_repair.add(link.aggregate_key)
    result.differing = len(to_repair)
    if not result.stopped:
        gone = RemoteLink.objects.filter(connector=connector).exclude(remote_id="")
        with reads_may_lag():
            missing = set(
                gone.exclude(aggregate_key__in=seen).values_list("aggregate_key", flat=True)
            )
        result.missing = len(missing)
        to_repair |= missing
    latest = selectors.outbox_latest_events(connector=connector, keys=to_repair)
    result.repairs = len(latest)
    if dry_run or not latest:
        return result
    with transaction.atomic(durable=True):
        for event in latest:
            outbox_event_record(
                event_type=event.event_type,
                aggregate_type=event.aggregate_type,
                aggregate_key=event.aggregate_key,
                payload=event.payload,
                connector=connector,
                priority=OutboxEvent.Priority.BACKFILL,
            )
    return result


def remote_records_import(
    *, connector: str, dry_run: bool = False, on_page: Callable | None = None
) -> PagedResult:
    """Pull every remote record into RemoteRecord (upsert by remote id: idempotent) and link
    records that carry our external key, so later deliveries are one PUT."""
    config = connector_config(connector)
    result = PagedResult()
    for mapping, records in _remote_pages(config, result, on_page):
        rows = [
            RemoteRecord(
                connector=connector,
                remote_object=mapping.remote_object,
                remote_id=record["id"],
                external_key=str(record.get(mapping.key_field) or ""),
                fields={k: v for k, v in record.items() if k != "id"},
                fields_hash=payload_hash(mapping.from_record(record)),
            )
            for record in records
        ]
        known = set(
            RemoteRecord.objects.filter(
                connector=connector,
                remote_object=mapping.remote_object,
                remote_id__in=[row.remote_id for row in rows],
            ).values_list("remote_id", flat=True)
        )
        result.created += sum(row.remote_id not in known for row in rows)
        if not dry_run:
            _import_page(connector, mapping, rows)
    return result


def _import_page(connector: str, mapping: ObjectMapping, rows: list[RemoteRecord]) -> None:
    with transaction.atomic(durable=True):
        RemoteRecord.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["connector", "remote_object", "remote_id"],
            update_fields=["external_key", "fields", "fields_hash", "imported_at"],
        )
        RemoteLink.objects.bulk_create(
            [
                RemoteLink(
                    connector=connector,
                    aggregate_key=row.external_key,
                    remote_object=mapping.remote_object,
                    remote_id=row.remote_id,
                    fields_hash=row.fields_hash,
                )
                for row in rows
                if row.external_key
            ],
            ignore_conflicts=True,
        )
