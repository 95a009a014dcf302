"""The rate limiter every worker process and machine shares, in Redis.

GCRA (the generic cell rate algorithm) in one Lua script, with no burst: each call reserves
the next slot `1/rate` seconds after the previous one (Redis's own clock, so machines need no
synchronised clocks) and sleeps until it. We chose a 25-line script over pyrate-limiter's
Redis bucket because the same atomic step must also honour the shared 429 cooldown and
spend the daily budget, which a generic bucket cannot do in one round trip; GCRA keeps a
single value per connector (the theoretical arrival time) and spaces calls evenly, where a
token bucket would let a burst of N calls through at once and trip the remote's per-second
window.
"""

import random
import time
from dataclasses import dataclass

from apps.core.queues import queue_redis

# KEYS: tat, cooldown, budget. ARGV: interval_ms, max_wait_ms, reserve.
# Returns {1, wait_ms}: slot reserved, go after wait_ms; {0, wait_ms}: try again after
# wait_ms (cooling down, or the queue of reservations is too long); {-1, reset_ms}: the
# daily budget is spent until reset_ms from now.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cooling = redis.call('PTTL', KEYS[2])
if cooling > 0 then return {0, cooling} end
local budget = redis.call('GET', KEYS[3])
if budget and tonumber(budget) <= tonumber(ARGV[3]) then
  return {-1, redis.call('PTTL', KEYS[3])}
end
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, wait - tonumber(ARGV[2])} end
redis.call('SET', KEYS[1], tat + interval, 'PX', wait + interval + 1000)
if budget then redis.call('DECR', KEYS[3]) end
return {1, wait}
"""

# KEYS: cooldown. ARGV: ms. Extend the cooldown, never shorten it.
COOLDOWN_LUA = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""

MAX_QUEUE_WAIT_MS = 2000  # never reserve a slot further ahead than this


class BudgetExhausted(Exception):
    def __init__(self, retry_in: float):
        super().__init__(f"daily call budget spent; resets in {retry_in:.0f} s")
        self.retry_in = retry_in


class CoolingDown(Exception):
    def __init__(self, retry_in: float):
        super().__init__(f"the remote asked us to wait {retry_in:.1f} s")
        self.retry_in = retry_in


@dataclass
class RateLimiter:
    connector: str
    rate_per_second: float
    daily_reserve: int = 0
    max_blocking_wait: float = 2.0  # longer cooldowns are handed back to the caller

    def __post_init__(self):
        self.redis = queue_redis("default")
        self._acquire = self.redis.register_script(ACQUIRE_LUA)
        self._cooldown = self.redis.register_script(COOLDOWN_LUA)
        prefix = f"sync:{self.connector}"
        self.keys = [f"{prefix}:tat", f"{prefix}:cooldown", f"{prefix}:budget"]

    def acquire(self) -> None:
        """Block until this process may send one call. Raises CoolingDown when the shared
        cooldown is longer than `max_blocking_wait`, BudgetExhausted when the day is spent."""
        interval_ms = max(1, round(1000 / self.rate_per_second))
        while True:
            status, wait_ms = self._acquire(
                keys=self.keys, args=[interval_ms, MAX_QUEUE_WAIT_MS, self.daily_reserve]
            )
            if status == -1:
                raise BudgetExhausted(max(wait_ms, 1000) / 1000)
            if wait_ms / 1000 > self.max_blocking_wait:
                raise CoolingDown(wait_ms / 1000)
            time.sleep(wait_ms / 1000)
            # A 429 seen by another worker while we slept cancels our slot.
            if status == 1 and self.redis.pttl(self.keys[1]) <= 0:
                return

    def cool_down(self, seconds: float) -> None:
        self._cooldown(keys=[self.keys[1]], args=[max(1, int(seconds * 1000))])

    def cooldown_remaining(self) -> float:
        return max(0, self.redis.pttl(self.keys[1])) / 1000

    def budget_update(self, *, remaining: int, reset_in: float) -> None:
        """The remote's word on today's quota (X-PlanLimit-Remaining / -Reset)."""
        self.redis.set(self.keys[2], remaining, px=max(1000, int(reset_in * 1000)))

    def budget_remaining(self) -> int | None:
        value = self.redis.get(self.keys[2])
        return None if value is None else int(value)

    def reset(self) -> None:
        self.redis.delete(*self.keys)


def cooldown_from_headers(headers, *, fallback: float) -> float:
    """Seconds to wait after a 429 (or after an answer saying this second's calls are used
    up): Retry-After, else the rate-limit reset, else a short jittered pause."""
    if (retry_after := headers.get("Retry-After", "")).strip().isdigit():
        return float(retry_after)
    reset = headers.get("X-RateLimit-Reset", "")
    if reset.strip().isdigit():
        return min(60.0, max(0.05, int(reset) - time.time()))
    return fallback * random.uniform(0.5, 1.5)
