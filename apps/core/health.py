"""Readiness checks: each returns None when the part answers, or the error it raised."""

import redis
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection


def check_postgres() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the message says which
        return str(exc) or type(exc).__name__
    return None


def check_cache() -> str | None:
    try:
        get_redis_connection("default").ping()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


def check_queue() -> str | None:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


CHECKS = {"postgres": check_postgres, "cache": check_cache, "queue": check_queue}


def readiness() -> dict[str, str]:
    """{"postgres": "ok", "cache": "ok", "queue": "error: ..."}."""
    results = {}
    for name, check in CHECKS.items():
        error = check()
        results[name] = "ok" if error is None else f"error: {error}"
    return results
