"""Reconcile: requeue what the workers lost (expired leases, lost kicks), and page through
the remote to repair records that differ from what we delivered, or to import them."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from apps.core.replica import reads_may_lag
from apps.sync import selectors
from apps.sync.connector import ConnectorConfig, ObjectMapping, RecordsClient, connector_config
from apps.sync.models import OutboxEvent, RemoteLink, RemoteRecord
from apps.sync.ratelimit import BudgetExhausted, CoolingDown
from apps.sync.services.delivery import outbox_reclaim
from apps.sync.services.outbox import (
    outbox_event_record,
    outbox_kick,
    outbox_sweep_schedule,
    payload_hash,
)


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


# --- Paging through the remote -------------------------------------------------------------
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
