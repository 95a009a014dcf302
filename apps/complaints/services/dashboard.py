"""The officers' dashboard cache: every write that changes a figure bumps its generation."""

import time

from django.core.cache import cache
from django.db import transaction

from apps.complaints.selectors import DASHBOARD_VERSION_KEY, DASHBOARD_VERSION_TTL


def dashboard_invalidate() -> None:
    """Bump the dashboard's cache generation: every cached figure is stale at once."""
    try:
        cache.incr(DASHBOARD_VERSION_KEY)
    except ValueError:  # the key is gone (eviction, restart): start a fresh generation
        cache.set(DASHBOARD_VERSION_KEY, time.time_ns(), DASHBOARD_VERSION_TTL)


def dashboard_invalidate_on_commit() -> None:
    transaction.on_commit(dashboard_invalidate)
