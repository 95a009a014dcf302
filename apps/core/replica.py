"""Reads that may be a little stale, served by a streaming hot standby when one is configured.

Code marks those reads with `reads_may_lag()` (a context manager, or a decorator): the staff
results, the complaints dashboard, `export_results`, the reconcile comparison. The router
(config/db_router.py) sends them to the `replica` alias only while the standby is reachable
and no further behind than DATABASE_REPLICA_MAX_LAG_SECONDS, measured at most once a second
per process; otherwise, and for everything else, the primary answers. After a request that
writes, the same browser's reads go to the primary for DATABASE_READ_YOUR_WRITES_SECONDS
(a signed cookie), so nobody misses their own change. With no replica configured nothing
here runs: the middleware removes itself and no router is installed.
"""

import logging
import math
import threading
import time
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import Error, connections

logger = logging.getLogger("crowdproof.replica")

REPLICA = "replica"
COOKIE = "cp_wrote"  # the browser wrote recently: read from the primary
COOKIE_SALT = "crowdproof.read-your-writes"
CHECK_SECONDS = 1.0  # how long one lag measurement is trusted
RETRY_SECONDS = 5.0  # how long an unreachable replica is left alone before trying again
# Seconds behind the primary. Nothing waiting to be replayed means not behind, however long
# ago the last transaction was (an idle primary writes nothing to replay).
LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
    THEN 0
    ELSE COALESCE(
        EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 'Infinity'
    )
END
"""

_may_lag: ContextVar[bool] = ContextVar("reads_may_lag", default=False)
_wrote_recently: ContextVar[bool] = ContextVar("wrote_recently", default=False)


@contextmanager
def reads_may_lag():
    """The reads inside may come from a replica a few seconds behind the primary."""
    token = _may_lag.set(True)
    try:
        yield
    finally:
        _may_lag.reset(token)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def read_from_replica() -> bool:
    """What the router asks for every read."""
    return _may_lag.get() and not _wrote_recently.get() and _health.usable() and _health.connected()


class _ReplicaHealth:
    """The last lag measurement of this process, shared by its threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._usable = False
        self._valid_until = 0.0

    def usable(self) -> bool:
        if time.monotonic() < self._valid_until:
            return self._usable
        # One thread measures; the others read from the primary meanwhile.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._record(_replica_lag())
            return self._usable
        finally:
            self._lock.release()

    def connected(self) -> bool:
        """Open this thread's replica connection (the read needs it anyway), so a replica
        that went away since the last measurement sends the read to the primary, not to an
        error page."""
        try:
            connections[REPLICA].ensure_connection()
        except Error as error:
            logger.debug("read replica unreachable: %s", error)
            self._record(math.inf)
            return False
        return True

    def _record(self, lag: float) -> None:
        usable = lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        if usable != self._usable:
            level = logging.INFO if usable else logging.WARNING
            state = "in use" if usable else "skipped, the primary answers"
            logger.log(level, "read replica %s (lag %.1f s)", state, lag)
        self._usable = usable
        wait = RETRY_SECONDS if math.isinf(lag) else CHECK_SECONDS
        self._valid_until = time.monotonic() + wait

    def forget(self) -> None:
        """Measure again on the next read (tests, after changing the replica's state)."""
        self._valid_until = 0.0


_health = _ReplicaHealth()
forget_replica_state = _health.forget


def _replica_lag() -> float:
    """Seconds the replica is behind, or infinity when it cannot be reached."""
    replica = connections[REPLICA]
    try:
        with replica.cursor() as cursor:
            cursor.execute(LAG_SQL)
            return cursor.fetchone()[0]
    except Error as error:
        logger.debug("read replica unreachable: %s", error)
        with suppress(Error):
            replica.close()  # never hand the broken connection to the next read
        return math.inf


class ReadYourWritesMiddleware:
    """After a request that may have written (a non-safe method), the browser gets a signed,
    timestamped cookie; while it is younger than the window its reads go to the primary."""

    def __init__(self, get_response):
        if not replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
        stamp = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT, max_age=window)
        token = _wrote_recently.set(stamp is not None)
        try:
            response = self.get_response(request)
        finally:
            _wrote_recently.reset(token)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            response.set_signed_cookie(
                COOKIE,
                "1",
                salt=COOKIE_SALT,
                max_age=window,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
