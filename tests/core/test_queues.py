"""The queue class: an enqueue inside a transaction happens once, at commit."""

import django_rq
import pytest


@pytest.mark.django_db
def test_an_enqueue_in_a_transaction_runs_once_when_its_hook_runs(
    django_capture_on_commit_callbacks,
):
    queue = django_rq.get_queue("low")
    queue.empty()
    with django_capture_on_commit_callbacks() as hooks:
        assert queue.enqueue("apps.core.jobs.recovery_sweep") is None  # not yet
    assert len(hooks) == 1 and queue.count == 0
    # A hook run while a transaction is still open (as captured hooks are in tests) must
    # enqueue, not register itself again: that looped forever.
    with django_capture_on_commit_callbacks() as registered_again:
        hooks[0]()
    assert registered_again == []
    assert queue.count == 1
    queue.empty()


def test_the_queue_client_is_one_per_process_and_follows_its_configuration(monkeypatch):
    """django-rq builds a new client and connection pool per get_queue() (rq/django-rq#210):
    every enqueue opened a connection. Ours is kept, and a changed configuration (the queue
    Redis moved) gets a client of its own."""
    from apps.core.queues import get_queue, queue_redis

    first = get_queue("high")
    assert get_queue("high").connection is first.connection is queue_redis("high")
    pool = first.connection.connection_pool
    first.connection.ping()  # at least one connection open (earlier tests may have more)
    opened = len(pool._available_connections) + len(pool._in_use_connections)
    for _ in range(5):  # one after another, as enqueues of one thread are
        get_queue("high").connection.ping()
    assert len(pool._available_connections) + len(pool._in_use_connections) == opened

    config = django_rq.settings.QUEUES["high"]
    monkeypatch.setitem(django_rq.settings.QUEUES, "high", {**config, "DEFAULT_TIMEOUT": 7})
    assert queue_redis("high") is not first.connection
