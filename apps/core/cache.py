"""Cache backends that keep the site serving while the cache Redis is away.

`ResilientRedisCache` is django-redis with IGNORE_EXCEPTIONS (a read misses, a write is
dropped, callers fall back to PostgreSQL) plus: the outage is logged once, not per call, and
while it lasts only one call every CACHE_RETRY_SECONDS tries Redis. `RateLimitCache` keeps
django-ratelimit's counters in Redis, and in this process while Redis is down, so limits
still hold (per process) instead of refusing everyone (fail closed) or no one.
"""

from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.core.outage import outage

CACHE_RETRY_SECONDS = 5.0
# A count started in the process mid-window: rate-limit keys name their window, so outliving
# it only keeps a stale key a little longer.
LOCAL_COUNT_SECONDS = 3600
SKIPPED = "skipped while the cache is down"
# Client methods that do not talk to Redis: their success says nothing about it.
_LOCAL_METHODS = frozenset({"get_client", "get_client_with_index", "connect", "close", "make_key"})
# django-ratelimit counts a hit as add(key, 1), then incr(key) when the key was already there:
# two round trips. This script is both in one; the incr that follows is answered from it.
_HIT_SCRIPT = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return 1 end
return redis.call('INCR', KEYS[1])
"""


def script_run_direct(client, script, *, keys: list, args: list):
    """Run a registered script on one of the client's pooled connections, straight through
    the connection's own send and read. It is the one Redis call of every answer save, and
    redis-py's command path around it (retries, deprecation checks, event dispatch; per-command
    metrics too from 7 on) costs as much as the call or more: 76 against 40 microseconds of
    CPU on 6.4, 117 against 30 on 8.1. Nothing is retried here: a failure is the caller's to
    handle, as a failed call always was."""
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        try:
            connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
            return connection.read_response()
        except NoScriptError:  # a restarted or flushed server: the script's text once more
            connection.send_command("EVAL", script.script, len(keys), *keys, *args)
            return connection.read_response()
    except (RedisConnectionError, RedisTimeoutError):
        connection.disconnect()  # half a conversation: never handed out again as it is
        raise
    finally:
        pool.release(connection)


class _GuardedClient:
    """Wraps a django-redis client: reports failures and successes to the outage, and fails
    fast (as a lost connection, which the cache then ignores) while the circuit is open."""

    def __init__(self, client, state):
        self._client = client
        self._state = state

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in _LOCAL_METHODS or not callable(attr):
            return attr
        state = self._state

        def guarded(*args, **kwargs):
            if state.skip():
                raise ConnectionInterrupted(connection=None) from RedisConnectionError(SKIPPED)
            try:
                result = attr(*args, **kwargs)
            except ConnectionInterrupted as exc:
                state.failed(exc)
                raise
            state.recovered()
            return result

        return guarded


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        params = {**params, "OPTIONS": {**params.get("OPTIONS", {}), "IGNORE_EXCEPTIONS": True}}
        super().__init__(server, params)
        self._log_ignored_exceptions = False  # the outage is logged once instead
        where = urlsplit(server.split(",")[0])
        place = where.netloc.rpartition("@")[2] or where.path  # never the password
        self.outage = outage(f"cache at {place}", retry_seconds=CACHE_RETRY_SECONDS)
        self._guarded = None

    @property
    def client(self):
        if self._guarded is None:
            self._guarded = _GuardedClient(super().client, self.outage)
        return self._guarded


class RateLimitCache(ResilientRedisCache):
    """RATELIMIT_USE_CACHE: the calls django-ratelimit makes (add, incr, get) go to Redis,
    or to a process-local counter while Redis is down. A counted hit is one round trip."""

    def __init__(self, server, params):
        super().__init__(server, params)
        # LocMemCache instances of one name share their data: one counter set per process.
        self._local = LocMemCache("crowdproof-ratelimit-fallback", {"OPTIONS": {}})
        # The count of the last hit that found its key, for the incr that follows it. Cache
        # instances are per thread (django.core.cache.caches), so this is too.
        self._counted: tuple | None = None
        self._hit_scripts = {}  # redis client id -> its registered script

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        if value != 1 or not isinstance(timeout, int):  # not a hit: a plain add
            return self._count("add", key, value, timeout, version=version)
        count = self._hit(key, timeout, version)
        if count is None:  # Redis is away: count here
            return self._count_here("add", key, value, timeout, version=version)
        if count == 1:
            return True
        self._counted = (key, version, count)
        return False

    def incr(self, key, delta=1, version=None):
        counted, self._counted = self._counted, None
        if counted is not None and counted[:2] == (key, version) and delta == 1:
            return counted[2]
        return self._count("incr", key, delta, version=version)

    def _hit(self, key, timeout: int, version) -> int | None:
        """SET key 1 NX EX timeout, else INCR key: the count after this hit, or None while
        Redis is unreachable (reported to the outage like every other call)."""
        if self.outage.skip():
            return None
        client = self.client.get_client(write=True)
        script = self._hit_scripts.get(id(client))
        if script is None:
            script = self._hit_scripts[id(client)] = client.register_script(_HIT_SCRIPT)
        try:
            count = script_run_direct(
                client, script, keys=[self.client.make_key(key, version=version)], args=[timeout]
            )
        except RedisError as exc:
            self.outage.failed(exc)
            return None
        self.outage.recovered()
        return int(count)

    def _count(self, method, *args, **kwargs):
        # Always through Redis first: while it is down that call returns at once (the
        # circuit), except for the periodic probe that finds it back. Whether this call
        # failed is decided by its own answer (None: add and incr never return it from a
        # live Redis), not only by the shared state, which another thread's success can
        # flip back to "up" in between: django-ratelimit refuses a request on None.
        result = getattr(super(), method)(*args, **kwargs)
        if (result is None and method != "get") or self.outage.down:
            return self._count_here(method, *args, **kwargs)
        return result

    def _count_here(self, method, *args, **kwargs):
        try:
            return getattr(self._local, method)(*args, **kwargs)
        except ValueError:
            # incr of a count that lived in Redis until Redis went (django-ratelimit's add
            # found it there, then its incr failed): go on counting here from this call,
            # or django-ratelimit would take the ValueError for a failed count and refuse.
            key, delta = args[0], args[1] if len(args) > 1 else kwargs.get("delta", 1)
            self._local.add(key, delta, LOCAL_COUNT_SECONDS, version=kwargs.get("version"))
            return delta

    def clear(self):
        self._local.clear()
        return super().clear()

    def get(self, *args, **kwargs):
        return self._count("get", *args, **kwargs)
