"""The RQ worker class (settings.RQ["WORKER_CLASS"]): RQ's SimpleWorker that outlives its
Redis, keeps its scheduler alive, arms the recovery sweep and writes the worker heartbeat.

RQ (3.0) quits its work loop on any Redis error outside the blocking dequeue (job
bookkeeping, heartbeat, maintenance), restarts a dead scheduler only at its 10-minute
maintenance, and leaves the scheduler process running when the worker is killed. Each
override below says which of these it fixes; everything else is RQ's own code.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import time

import redis
from django.conf import settings
from django.db import connections
from rq.worker import SimpleWorker

from apps.core import recovery
from apps.core.backoff import Backoff
from apps.core.heartbeat import heartbeat_start

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """In every process the worker forks (its scheduler): get SIGTERM when the worker dies,
    even by kill -9, so no orphan keeps the scheduler lock and the next worker's scheduler
    can take it. SIGTERM lets RQ's scheduler release the lock on its way out."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the worker died before prctl took effect
        os._exit(0)


def _release_db_connections() -> None:
    """As Django does around a request: a connection that PostgreSQL dropped (restart) is
    discarded instead of failing every later job. Never inside a transaction (a burst
    worker run in a test runs inside the test's)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def _outlives_redis(method):
    """RQ's work loop quits on a Redis error raised here: wait for Redis to come back and
    carry on instead (what the job was doing is redone by the recovery sweep)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except REDIS_ERRORS as error:
            self.wait_for_redis(error)
            return None

    return wrapper


class ResilientWorker(SimpleWorker):
    # RQ's own back-off in the blocking dequeue grows to 60 s: Redis back means work back
    # within a few seconds.
    max_connection_wait_time = 5.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scheduler_checked = 0.0
        self._armed_slot: int | None = None

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        # A long-running worker writes the worker heartbeat (apps/core/heartbeat.py); a
        # burst run (a command, a test) is no service that is up.
        if not burst:
            heartbeat_start("worker")
        return super().work(burst, *args, **kwargs)

    def _start_scheduler(self, *args, **kwargs):
        # Registered before the scheduler's first fork, in the worker process only.
        parent_pid = os.getpid()
        os.register_at_fork(after_in_child=lambda: _die_with_parent(parent_pid))
        super()._start_scheduler(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks up to worker_ttl - 15 (405 s) waiting for a job, and does its housekeeping
        # (heartbeat below, maintenance) only between waits.
        return settings.RQ_WORKER_POLL_SECONDS

    def wait_for_redis(self, error: Exception) -> None:
        """Block until Redis answers again (or a stop is requested): one line when it goes,
        one when it is back, capped back-off in between."""
        self.log.warning("Worker %s: Redis unreachable (%s); waiting for it", self.name, error)
        backoff = Backoff(first=0.5, cap=self.max_connection_wait_time)
        started = time.monotonic()
        while not self._stop_requested:
            time.sleep(backoff.failed(time.monotonic()))
            try:
                self.connection.ping()
            except REDIS_ERRORS:
                continue
            self.log.warning(
                "Worker %s: Redis is back after %.0f s", self.name, time.monotonic() - started
            )
            return

    @_outlives_redis
    def execute_job(self, job, queue):
        _release_db_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            _release_db_connections()

    @_outlives_redis
    def check_for_suspension(self, burst: bool):
        return super().check_for_suspension(burst)

    @_outlives_redis
    def run_maintenance_tasks(self):
        return super().run_maintenance_tasks()

    @_outlives_redis
    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None:  # the loop's own heartbeat: between jobs and every poll
            self._keep_scheduler_alive()
            self._arm_recovery()

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread):
        # RQ logs an error every 2 s while Redis is away; the main loop logs the outage once.
        if isinstance(exc, redis.exceptions.ConnectionError):
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def _keep_scheduler_alive(self) -> None:
        """RQ's scheduler process dies with Redis and RQ starts it again only at maintenance
        (10 minutes): check every RQ_WORKER_POLL_SECONDS and start it (taking the lock if
        free, or still ours) when it is not running."""
        scheduler = self.scheduler
        now = time.monotonic()
        if scheduler is None or now - self._scheduler_checked < settings.RQ_WORKER_POLL_SECONDS:
            return
        self._scheduler_checked = now
        if scheduler._process is None or not scheduler._process.is_alive():
            scheduler.acquire_locks(auto_start=True)

    def _arm_recovery(self) -> None:
        slot = recovery.recovery_slot()
        if slot != self._armed_slot:
            recovery.recovery_arm(slot=slot)
            self._armed_slot = slot
