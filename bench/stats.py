"""Pure figures: percentiles, ratios, shares. No Django, no I/O (tested in tests/bench)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    """{"p50": .., "p95": .., "p99": .., "max": .., "mean": ..} in milliseconds."""
    if not values_ms:
        return {}
    summary = {f"p{p}": percentile(values_ms, p) for p in PERCENTILES}
    summary["max"] = max(values_ms)
    summary["mean"] = sum(values_ms) / len(values_ms)
    return summary


def ratio(value: float | None, reference: float | None) -> float | None:
    """value / reference, or None when either is unknown or the reference is zero."""
    if value is None or not reference:
        return None
    return value / reference


def cpu_share(cpu_seconds: float, wall_seconds: float, cores: int) -> float:
    """The share of the whole machine (all cores) that cpu_seconds took over wall_seconds."""
    if wall_seconds <= 0 or cores <= 0:
        return 0.0
    return cpu_seconds / (wall_seconds * cores)


def last_acknowledged(acks: Sequence[str], key_of: dict[str, object]) -> dict[object, str]:
    """For each key, the id of its last acknowledgement (acks in the order they arrived;
    ids not in key_of are ignored). With one request per key in flight at a time, that is
    the write the server committed last."""
    last: dict[object, str] = {}
    for request_id in acks:
        key = key_of.get(request_id)
        if key is not None:
            last[key] = request_id
    return last


def ratio_chain(rates: Sequence[float | None]) -> list[float | None]:
    """Each rate as a ratio to the one before it (None for the first, or where one is
    unknown): plain WSGI -> Django -> our middleware -> one upsert -> an answer save."""
    return [None, *(ratio(rate, before) for before, rate in pairwise(rates))]


def cpu_ms_per_request(cores: float | None, rate: float | None) -> float | None:
    """CPU milliseconds per request from cores busy (1.0 = one core) at `rate` req/s."""
    if cores is None or not rate:
        return None
    return cores * 1000 / rate


def median_index(values: Sequence[float]) -> int:
    """The index of the lower median of `values`: a run that really happened, whose other
    figures go with it (with an even count, the lower of the two middle runs)."""
    if not values:
        raise ValueError("median of no values")
    order = sorted(range(len(values)), key=lambda index: values[index])
    return order[(len(values) - 1) // 2]


def highest_rate_within(phases: Sequence[tuple[float, float]], limit_ms: float) -> float | None:
    """The highest arrival rate whose p95 (ms) stayed under `limit_ms`, from (rate, p95)
    pairs; None when none did. Only rates actually offered count: no extrapolation."""
    within = [rate for rate, p95 in phases if p95 < limit_ms]
    return max(within) if within else None
