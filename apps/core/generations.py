"""Cache generations: a number that every cached entry of one kind is keyed by (or stamped
with). A write bumps it, and every entry of that kind is stale at once, with nothing to find
and delete. A lost key (eviction, a cache restart) starts again from the clock, never from a
number an old entry may still carry."""

import time

from django.core.cache import cache

GENERATION_TTL = 24 * 60 * 60  # outlives every entry keyed by a generation


def generation(key: str) -> int:
    return cache.get_or_set(key, time.time_ns(), GENERATION_TTL) or 0


def generation_bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # the key is gone: a fresh generation
        cache.set(key, time.time_ns(), GENERATION_TTL)
