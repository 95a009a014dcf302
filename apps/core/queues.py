"""The RQ queue class (settings.RQ["QUEUE_CLASS"])."""

from django.db import connection
from django_rq.queues import DjangoRQ

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
