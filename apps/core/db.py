"""Database helpers shared by the apps' services."""

from django.db import transaction


def require_transaction(message: str) -> None:
    """Refuse to run outside an atomic block: for writes that must commit or roll back with
    the caller's change (an outbox event, a reference number)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(message)
