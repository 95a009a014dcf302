"""django-rq jobs of core: they only call services."""

from apps.core import recovery


def recovery_sweep() -> dict:
    """Enqueued once per RECOVERY_INTERVAL_SECONDS by the workers (apps.core.worker)."""
    return recovery.recovery_sweep()
