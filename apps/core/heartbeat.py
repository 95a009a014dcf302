"""The service's heartbeat in PostgreSQL: the server's own record of when it was up.

Every web process (gunicorn's post_worker_init, config/gunicorn.conf.py) and every RQ worker
(apps.core.worker) runs a daemon thread that writes a beat every SERVICE_HEARTBEAT_SECONDS
on a short connection of its own: never a pooled connection a request waits for, and a
beat that cannot be written (PostgreSQL down, the process stalled) is simply missing. A beat
extends its role's latest ServiceInterval when that one was seen within a few beats, or
starts a new interval: so a silence shows as a gap between two intervals, one simple query
(`service_gaps`), and the table holds one row per gap, not per beat. The web's first beat after
a silence credits the running attempts for it at once (`outages_credit_now`).

Times come from PostgreSQL's clock (one clock for every node), and a beat has a statement
timeout shorter than the silence that splits an interval, so a beat delayed by a stalled
server cannot write a time from inside the gap it was stuck in.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from apps.core.outage import outage

log = logging.getLogger("crowdproof.heartbeat")

PART = "heartbeat"  # the outage name of a process whose beats fail (logged once)
HISTORY = timedelta(days=7)  # intervals kept: far longer than any gap still to be credited
TABLE = "core_serviceinterval"  # ServiceInterval's table, without importing models early

_BEAT_SQL = f"""
WITH latest AS (
    SELECT id FROM {TABLE} WHERE role = %(role)s ORDER BY started_at DESC LIMIT 1 FOR UPDATE
), extended AS (
    UPDATE {TABLE} i SET last_seen = GREATEST(i.last_seen, clock_timestamp())
    FROM latest
    WHERE i.id = latest.id AND i.last_seen >= clock_timestamp() - make_interval(secs => %(silence)s)
    RETURNING i.id
)
INSERT INTO {TABLE} (role, started_at, last_seen)
SELECT %(role)s, clock_timestamp(), clock_timestamp()
WHERE NOT EXISTS (SELECT 1 FROM extended)
RETURNING EXISTS (SELECT 1 FROM latest)
"""


def silence_seconds() -> float:
    """How long no beat may come before an interval ends: three beats missed (one late beat
    is no outage)."""
    return 3.0 * settings.SERVICE_HEARTBEAT_SECONDS


def _connection_params() -> dict:
    """Django's own settings for "default" (the primary), with timeouts under one beat."""
    params = connections["default"].get_connection_params()
    interval = settings.SERVICE_HEARTBEAT_SECONDS
    params["connect_timeout"] = max(
        1, min(int(params.get("connect_timeout") or interval), interval)
    )
    timeout_ms = int(interval * 1000)
    params["options"] = f"{params.get('options', '')} -c statement_timeout={timeout_ms}".strip()
    return params


def beat(role: str, *, after_gap: Callable[[], None] | None = None) -> bool:
    """Write one beat for `role` on a connection of its own; False (logged once per outage)
    when PostgreSQL cannot take it. `after_gap` is called when this beat is the first after
    a silence (it started a new interval after an earlier one)."""
    state = outage(PART)
    try:
        with psycopg.connect(**_connection_params(), autocommit=True) as conn:
            started = conn.execute(
                _BEAT_SQL, {"role": role, "silence": silence_seconds()}
            ).fetchone()
    except Exception as error:  # any failure is a missing beat, never the process's problem
        state.failed(error)
        return False
    state.recovered()
    if started is not None and started[0] and after_gap is not None:
        after_gap()
    return True


def outages_credit_now() -> None:
    """The web is back after a silence: credit the outage at once, from a thread of its own
    (the beats go on meanwhile), not only at the workers' next recovery sweep, so that the
    answers every page resends now find their time already given. The credit is idempotent
    (each outage claimed with SKIP LOCKED), so the sweep and other processes may race it."""

    def run():
        from apps.assessments.services import outages_credit  # a layer above core

        try:
            credited = outages_credit()
        except Exception as error:  # the workers' recovery sweep retries
            log.warning("heartbeat: outage credit failed (%s); the recovery sweep retries", error)
        else:
            if credited:
                log.info("heartbeat: %s attempts credited for an outage", credited)
        finally:
            connection.close()  # this thread's own, back to the pool

    threading.Thread(target=run, name="outage-credit", daemon=True).start()


class Heartbeat(threading.Thread):
    """A daemon thread beating every SERVICE_HEARTBEAT_SECONDS until `stop()`."""

    def __init__(self, role: str):
        super().__init__(name=f"heartbeat-{role}", daemon=True)
        self.role = role
        self._stopped = threading.Event()
        # A gap in the web's beats is an outage that running attempts are credited for.
        self._after_gap = outages_credit_now if role == "web" else None

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                beat(self.role, after_gap=self._after_gap)
            except Exception:  # a bug here must not end the beats for good
                log.exception("heartbeat: unexpected error")
            self._stopped.wait(settings.SERVICE_HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self._stopped.set()


_started: dict[tuple[int, str], Heartbeat] = {}
_started_lock = threading.Lock()


def heartbeat_start(role: str) -> Heartbeat | None:
    """Start this process's heartbeat thread for `role` (once per process: a forked child
    has no threads, so it starts its own). None when SERVICE_HEARTBEAT_SECONDS is 0."""
    if settings.SERVICE_HEARTBEAT_SECONDS <= 0:
        return None
    key = (os.getpid(), role)
    with _started_lock:
        thread = _started.get(key)
        if thread is None or not thread.is_alive():
            thread = _started[key] = Heartbeat(role)
            thread.start()
    return thread


def heartbeat_running(role: str) -> bool:
    """Does this process beat for `role`: will a silence in its beats end by itself?"""
    thread = _started.get((os.getpid(), role))
    return thread is not None and thread.is_alive()


_GAPS_SQL = f"""
SELECT prev_end, started_at FROM (
    SELECT started_at,
           max(last_seen) OVER (ORDER BY started_at, id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM {TABLE} WHERE role = %(role)s AND last_seen >= %(since)s
) beats
WHERE started_at - prev_end > make_interval(secs => %(longer)s)
ORDER BY prev_end
"""


def service_gaps(
    *, since: datetime, longer_than: float, role: str = "web"
) -> list[tuple[datetime, datetime]]:
    """The closed gaps (from the last beat before to the first beat after) of `role` longer
    than `longer_than` seconds, among the intervals seen since `since`. A gap still open (no
    beat since) is not listed: its end is not known yet."""
    with connection.cursor() as cursor:
        cursor.execute(_GAPS_SQL, {"role": role, "since": since, "longer": longer_than})
        return [(start, end) for start, end in cursor.fetchall()]


_LAST_GAP_SQL = f"""
SELECT (SELECT max(before.last_seen) FROM {TABLE} before
        WHERE before.role = %(role)s AND before.started_at < latest.started_at),
       latest.started_at, latest.last_seen
FROM (SELECT started_at, last_seen FROM {TABLE} WHERE role = %(role)s
      ORDER BY started_at DESC LIMIT 1) latest
"""


def service_latest(*, role: str = "web") -> tuple[datetime | None, datetime, datetime] | None:
    """The last beat before the latest interval (None: it is the first), the latest
    interval's start and its last beat; None when `role` never beat."""
    with connection.cursor() as cursor:
        cursor.execute(_LAST_GAP_SQL, {"role": role})
        return cursor.fetchone()


_FAILING_SQL = f"""
SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE role = %(role)s AND started_at < %(at)s)
   AND NOT EXISTS (
       SELECT 1 FROM {TABLE}
       WHERE role = %(role)s AND started_at <= %(at)s
         AND last_seen >= %(at)s - make_interval(secs => %(silence)s))
"""


def service_failing_at(at: datetime, *, role: str = "web") -> bool:
    """Did the heartbeat record the service as down at `at`: beats had been written before,
    and none within a silence of it (a gap, closed or still open)? With no record at all
    (heartbeats off) the answer is no: only a recorded failure counts."""
    with connection.cursor() as cursor:
        cursor.execute(_FAILING_SQL, {"role": role, "at": at, "silence": silence_seconds()})
        return cursor.fetchone()[0]


def heartbeats_prune(*, now: datetime | None = None) -> int:
    """Forget intervals that ended more than HISTORY ago (a role's latest is always kept)."""
    from apps.core.models import ServiceInterval

    cutoff = (now or timezone.now()) - HISTORY
    old = ServiceInterval.objects.filter(last_seen__lt=cutoff)
    for role in ServiceInterval.Role.values:
        latest = ServiceInterval.objects.filter(role=role).order_by("-started_at").first()
        if latest is not None:
            old = old.exclude(pk=latest.pk)
    deleted, _ = old.delete()
    return deleted
