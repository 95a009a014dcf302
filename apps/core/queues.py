"""The RQ queue class (settings.RQ["QUEUE_CLASS"]), and the queues and queue Redis client
that the app's code uses (one client per process, not one per call)."""

import json

import django_rq
from django.db import connection
from django_rq.queues import DjangoRQ
from redis import Redis

from apps.core.outage import QUEUE, after_commit, outage


class Queue(DjangoRQ):
    """django-rq's queue, whose after-commit enqueue (COMMIT_MODE on_db_commit) can never
    fail the request that committed: durable work has a database row, so a job lost with
    the queue Redis is logged once per outage and re-enqueued by the periodic sweep."""

    def enqueue_call(self, *args, **kwargs):
        if self._commit_mode == "request_finished":
            return super().enqueue_call(*args, **kwargs)
        if self._commit_mode == "on_db_commit" and connection.in_atomic_block:
            # The hook enqueues for real: were it to call enqueue_call again, a hook run
            # inside an atomic block (a test's captured callbacks) would register itself
            # again, forever.
            after_commit(lambda: self._enqueue_now(*args, **kwargs), part=QUEUE)
            return None
        return self._enqueue_now(*args, **kwargs)

    def _enqueue_now(self, *args, **kwargs):
        job = self.original_enqueue_call(*args, **kwargs)
        outage(QUEUE).recovered()  # an enqueue went through: the queue Redis answers
        return job


_clients: dict[str, Redis] = {}


def queue_redis(name: str = "default") -> Redis:
    """This process's Redis client for RQ queue `name`. django-rq builds a new client, with a
    new connection pool, on every get_queue() and get_connection() (rq/django-rq#210): every
    enqueue opened and closed a connection (2 ms of CPU per attempt start). Keyed by the
    queue's configuration, so a changed configuration (a test, a reload) gets its own."""
    config = django_rq.settings.QUEUES[name]
    key = json.dumps(config, sort_keys=True, default=str)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = django_rq.get_connection(name)
    return client


def get_queue(name: str = "default", **kwargs) -> Queue:
    """django_rq.get_queue on this process's client for the queue."""
    return django_rq.get_queue(name, connection=queue_redis(name), **kwargs)
