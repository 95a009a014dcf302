"""Capped exponential back-off, in one place: `full_jitter` for retries that many clients
make at the same time (outbox delivery), and `Backoff`, the restart policy shared by `serve`
(children and embedded services) and the RQ worker (waiting out a Redis outage), which
starts over once the thing has stayed up a while. `Backoff` is pure: the caller passes the
clock, so tests need no sleeping.

This module must import without Django configured.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def capped_exponential(attempt: int, *, base: float, cap: float) -> float:
    """`base` for attempt 0, then twice as long each attempt, never more than `cap`."""
    return min(cap, base * 2**attempt)


def full_jitter(attempt: int, *, base: float, cap: float) -> float:
    """A wait drawn uniformly from [0, capped_exponential]: retries of many clients that
    failed together spread out instead of arriving together again."""
    return random.uniform(0, capped_exponential(attempt, base=base, cap=cap))


@dataclass
class Backoff:
    """`failed(now)` says how long to wait before the next try: `first`, then twice as long
    each consecutive failure, never more than `cap`. A failure more than `reset_after`
    seconds after the last `started(now)` is a first failure again: a child that ran for a
    minute and died is restarted at once, one that dies at start is not restarted in a loop."""

    first: float = 1.0
    cap: float = 30.0
    reset_after: float = 60.0
    failures: int = 0
    _started_at: float | None = None

    def started(self, now: float) -> None:
        self._started_at = now

    def failed(self, now: float) -> float:
        if self._started_at is not None and now - self._started_at >= self.reset_after:
            self.failures = 0
        self._started_at = None
        self.failures += 1
        return capped_exponential(self.failures - 1, base=self.first, cap=self.cap)
