"""Living without a part for a while (the cache, the job queue): one warning when it starts
failing and one info line when it answers again, per process, instead of a traceback per
request; a short circuit so that, while it is down, only one caller every few seconds
pays for trying it; and after-commit side effects that never turn a committed change into
an error response."""

import logging
import threading
import time
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger("crowdproof.outage")

QUEUE = "job queue"  # the part name of the RQ Redis (REDIS_URL)


class Outage:
    """What this process knows about one part: up, or down since its first failure."""

    def __init__(self, part: str, *, retry_seconds: float):
        self.part = part
        self.retry_seconds = retry_seconds
        self.down = False
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def skip(self) -> bool:
        """True while the part is down and not due for another try. Once due, one caller
        gets False (it probes the part) and the others keep skipping."""
        if not self.down:
            return False
        with self._lock:
            now = time.monotonic()
            if now < self._retry_at:
                return True
            self._retry_at = now + self.retry_seconds
            return False

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.retry_seconds
            if self.down:
                return
            self.down = True
        logger.warning("%s unavailable, carrying on without it: %s", self.part, exc)

    def recovered(self) -> None:
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        logger.info("%s available again", self.part)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage(part: str, *, retry_seconds: float = 0.0) -> Outage:
    """The process-wide state of `part` (shared by all threads and cache instances)."""
    with _outages_lock:
        if part not in _outages:
            _outages[part] = Outage(part, retry_seconds=retry_seconds)
        return _outages[part]


def after_commit(func: Callable[[], object], *, part: str = QUEUE) -> None:
    """transaction.on_commit for a side effect whose work is durable without it (an enqueue
    or kick whose job has a database row the periodic sweep redoes): once committed the
    change stands, so a failure is logged once per outage and the caller still succeeds.
    (The end of the outage is told by what proves the part answers, e.g. an enqueue: a hook
    that returned may not have needed it.)"""
    state = outage(part)

    def hook():
        try:
            func()
        except Exception as exc:  # any failure of the side effect; the row is committed
            state.failed(exc)

    transaction.on_commit(hook)
