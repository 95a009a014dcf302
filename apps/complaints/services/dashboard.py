"""The officers' dashboard cache: every write that changes a figure bumps its generation."""

from django.db import transaction

from apps.complaints.selectors import DASHBOARD_VERSION_KEY
from apps.core.generations import generation_bump


def dashboard_invalidate() -> None:
    """Bump the dashboard's cache generation: every cached figure is stale at once."""
    generation_bump(DASHBOARD_VERSION_KEY)


def dashboard_invalidate_on_commit() -> None:
    transaction.on_commit(dashboard_invalidate)
