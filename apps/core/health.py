"""Readiness checks: each returns None when the part answers, or the error it raised.

Each check opens its own short-lived connection (never the shared database pool, whose
queue is what a request waits in during an outage), and readiness() waits at most
READY_TIMEOUT_SECONDS for all of them together: a load balancer hears 503 within a second.
"""

from concurrent.futures import ThreadPoolExecutor, wait

import psycopg
from django.conf import settings
from django.db import connection

from apps.core.redis_config import redis_client

READY_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 2  # libpq's minimum; readiness() stops waiting sooner
ERR_NO_ANSWER = "no answer within the readiness timeout"


def check_postgres(params: dict) -> str | None:
    try:
        with psycopg.connect(**{**params, "connect_timeout": CONNECT_TIMEOUT_SECONDS}) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the message says which
        return str(exc) or type(exc).__name__
    return None


def _ping(url: str) -> str | None:
    try:
        # Plain or sentinel:// (then the probe asks the Sentinels for the master).
        redis_client(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=1).ping()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


# Bounded: while a part hangs, piled-up probes wait here and report no answer in time.
_executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readyz")


def readiness() -> dict[str, str]:
    """{"postgres": "ok", "cache": "ok", "queue": "error: ..."}."""
    # What to reach is read here, in the request's thread (its database connection).
    checks = {
        "postgres": (check_postgres, connection.get_connection_params()),
        "cache": (_ping, settings.CACHE_URL),
        "queue": (_ping, settings.REDIS_URL),
    }
    futures = {name: _executor.submit(check, target) for name, (check, target) in checks.items()}
    wait(futures.values(), timeout=READY_TIMEOUT_SECONDS)
    results = {}
    for name, future in futures.items():
        error = future.result() if future.done() else ERR_NO_ANSWER
        results[name] = "ok" if error is None else f"error: {error}"
    return results
