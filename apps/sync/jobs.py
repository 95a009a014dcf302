"""django-rq jobs of sync: they only call services."""

from apps.sync import services


def outbox_deliver(connector: str, priority: int) -> dict:
    """Drain due outbox rows of a connector; when stopped for time with rows left, enqueue
    one successor (the lease and the job timeout stay short)."""
    result = services.outbox_drain(connector=connector)
    if result.more:
        services.outbox_kick(connector=connector, priority=priority, force=True, jobs=1)
    return vars(result)


def outbox_sweep() -> int:
    """Scheduled every SYNC_SWEEP_SECONDS by RQ's scheduler: the reclaim step of
    sync_reconcile (expired leases, due rows), which schedules the next sweep."""
    reclaimed, _jobs = services.outbox_requeue(force=False)
    return reclaimed
