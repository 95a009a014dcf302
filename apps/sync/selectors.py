"""Reads for sync: the status report, due connectors, the latest event per key."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from apps.sync.connector import connector_config, connector_names
from apps.sync.models import ConnectorState, OutboxEvent
from apps.sync.ratelimit import RateLimiter

DUE_STATUSES = (OutboxEvent.Status.PENDING, OutboxEvent.Status.FAILED)


@dataclass
class ConnectorStatus:
    connector: str
    configured: bool
    paused: bool
    counts: dict[str, int] = field(default_factory=dict)
    oldest_pending_age: timedelta | None = None
    expired_leases: int = 0
    cooldown_seconds: float = 0.0
    budget_remaining: int | None = None


def connector_is_paused(*, connector: str) -> bool:
    return ConnectorState.objects.filter(connector=connector, paused=True).exists()


def outbox_status(*, now: datetime | None = None) -> list[ConnectorStatus]:
    """Per connector (configured ones and any with rows): counts by status, the age of the
    oldest pending row, leases past expiry, the shared cooldown and today's budget."""
    now = now or timezone.now()
    counts: dict[str, dict[str, int]] = {}
    for row in OutboxEvent.objects.values("connector", "status").annotate(n=Count("pk")):
        counts.setdefault(row["connector"], {})[row["status"]] = row["n"]
    oldest = dict(
        OutboxEvent.objects.filter(status__in=DUE_STATUSES)
        .values("connector")
        .annotate(oldest=Min("created_at"))
        .values_list("connector", "oldest")
    )
    expired = dict(
        OutboxEvent.objects.filter(status=OutboxEvent.Status.IN_FLIGHT, lease_expires_at__lt=now)
        .values("connector")
        .annotate(n=Count("pk"))
        .values_list("connector", "n")
    )
    paused = set(ConnectorState.objects.filter(paused=True).values_list("connector", flat=True))
    report = []
    for name in sorted(set(connector_names()) | set(counts)):
        config = connector_config(name) if name in connector_names() else None
        limiter = config and RateLimiter(connector=name, rate_per_second=config.rate_per_second)
        report.append(
            ConnectorStatus(
                connector=name,
                configured=bool(config and config.configured),
                paused=name in paused,
                counts={
                    status: counts.get(name, {}).get(status, 0) for status in OutboxEvent.Status
                },
                oldest_pending_age=now - oldest[name] if name in oldest else None,
                expired_leases=expired.get(name, 0),
                cooldown_seconds=limiter.cooldown_remaining() if limiter else 0.0,
                budget_remaining=limiter.budget_remaining() if limiter else None,
            )
        )
    return report


def connectors_with_due_rows(*, now: datetime | None = None) -> list[tuple[str, int]]:
    """(connector, best priority) for each connector holding rows due now."""
    return list(
        OutboxEvent.objects.filter(
            status__in=DUE_STATUSES, next_attempt_at__lte=now or timezone.now()
        )
        .values("connector")
        .annotate(priority=Min("priority"))
        .values_list("connector", "priority")
    )


def outbox_latest_events(*, connector: str, keys) -> list[OutboxEvent]:
    """The newest event of each key: the state a replay or a repair sends again."""
    return list(
        OutboxEvent.objects.filter(connector=connector, aggregate_key__in=list(keys))
        .order_by("aggregate_key", "-pk")
        .distinct("aggregate_key")
    )
