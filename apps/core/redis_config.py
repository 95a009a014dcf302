"""Redis connection settings from one URL, plain or through Sentinel.

`redis://`, `rediss://` and `unix://` URLs name one server. A Sentinel URL names the
Sentinels and the master they watch:

    sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]

and is handed to the libraries' own Sentinel support (django-rq's `SENTINELS` queue config,
django-redis's `SentinelClient` and `SentinelConnectionFactory`, redis-py's `Sentinel`): a
new connection asks the Sentinels where the master is, so after a failover the next
connection finds the promoted replica without a restart. The password (if any) is the
master's; the Sentinels themselves are reached without one.

This module must import without Django configured (settings imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

SENTINEL_SCHEME = "sentinel://"
ERR_SENTINEL_URL = (
    "A Sentinel URL is sentinel://[:password@]host:port[,host:port...]/master[/db], got {url!r}."
)
# A Sentinel that does not answer within this is skipped for the next one.
SENTINEL_SOCKET_TIMEOUT = 1.0


@dataclass(frozen=True)
class SentinelURL:
    sentinels: list[tuple[str, int]]
    master: str
    db: int = 0
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelURL | None:
    """The parts of a sentinel:// URL, or None for any other URL."""
    if not url.startswith(SENTINEL_SCHEME):
        return None
    netloc, _, path = url[len(SENTINEL_SCHEME) :].partition("/")
    credentials, _, hosts = netloc.rpartition("@")
    password = unquote(credentials.partition(":")[2]) or None
    master, _, db = path.strip("/").partition("/")
    try:
        sentinels = []
        for host_port in hosts.split(","):
            host, _, port = host_port.rpartition(":")
            sentinels.append((host.strip("[]"), int(port)))
        if not master or not all(host for host, _ in sentinels):
            raise ValueError(url)
        return SentinelURL(sentinels, master, int(db or 0), password)
    except ValueError:
        raise ValueError(ERR_SENTINEL_URL.format(url=url)) from None


def queue_connection(url: str) -> dict:
    """The connection part of a django-rq RQ_QUEUES entry."""
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return {"URL": url}
    return {
        "SENTINELS": sentinel.sentinels,
        "MASTER_NAME": sentinel.master,
        "DB": sentinel.db,
        "PASSWORD": sentinel.password,
        "SENTINEL_KWARGS": {"socket_timeout": SENTINEL_SOCKET_TIMEOUT},
    }


def cache_connection(url: str) -> tuple[str, dict]:
    """django-redis's LOCATION and the OPTIONS it needs for that URL."""
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return url, {}
    password = f":{quote(sentinel.password, safe='')}@" if sentinel.password else ""
    # django-redis reads the master's name from the LOCATION's host part.
    location = f"redis://{password}{sentinel.master}/{sentinel.db}"
    return location, {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": sentinel.sentinels,
        "SENTINEL_KWARGS": {"socket_timeout": SENTINEL_SOCKET_TIMEOUT},
    }


def redis_client(url: str, **kwargs):
    """A redis-py client for either kind of URL (e.g. for a readiness probe); `kwargs` go
    to the connections to the server, not to the Sentinels."""
    import redis
    from redis.sentinel import Sentinel

    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return redis.Redis.from_url(url, **kwargs)
    manager = Sentinel(
        sentinel.sentinels,
        sentinel_kwargs={"socket_timeout": SENTINEL_SOCKET_TIMEOUT},
        db=sentinel.db,
        password=sentinel.password,
        **kwargs,
    )
    return manager.master_for(sentinel.master)
