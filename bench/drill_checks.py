"""The drill's verdicts over what it recorded: when saves succeeded again after a kill, which
acknowledged writes PostgreSQL does not have, how late caught-up work was, the exit code.
Pure: no Django, no processes (tested in tests/bench)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bench.report import ScenarioResult

NO_ANSWER = 0  # the status recorded when no response came (refused, reset, timed out)


@dataclass(frozen=True)
class Save:
    """One answer save as a teacher's browser saw it."""

    client: int
    seq: int  # the client's own sending order
    key: tuple[int, int]  # (attempt id, question id): each belongs to one client
    value: int
    sent: float  # time.time()
    done: float
    status: int

    @property
    def acknowledged(self) -> bool:
        return self.status == 200


def in_window(saves: Iterable[Save], *, since: float, until: float) -> list[Save]:
    """Saves answered (or given up on) after `since` and sent by `until`: those in flight at
    a kill belong to it."""
    return [s for s in saves if s.done >= since and s.sent <= until]


def saves_back_after(
    saves: Iterable[Save], *, kill_at: float, until: float, stable_s: float
) -> float | None:
    """Seconds from the kill until saves succeeded again for good: the answer to the first
    successful save sent after the kill and after the last failed one (a save in flight at
    the kill that failed counts), provided successes then went on for `stable_s`. A save
    that waited for the part to come back counts until its answer. None: not back (or
    nothing sent)."""
    window = in_window(saves, since=kill_at, until=until)
    last_failure = max((s.sent for s in window if not s.acknowledged), default=kill_at)
    succeeded = sorted(
        (s for s in window if s.sent >= kill_at and s.sent >= last_failure and s.acknowledged),
        key=lambda s: s.done,
    )
    if not succeeded or succeeded[-1].done - succeeded[0].done < stable_s:
        return None
    return max(0.0, succeeded[0].done - kill_at)


def lost_saves(saves: Iterable[Save], stored: dict[tuple[int, int], int]) -> list[tuple[int, int]]:
    """Answers whose last acknowledged save is not in PostgreSQL: the stored value must be the
    acknowledged one or that of a later save of the same client (sent, maybe committed, but
    its answer never arrived)."""
    by_key: dict[tuple[int, int], list[Save]] = {}
    for save in saves:
        by_key.setdefault(save.key, []).append(save)
    lost = []
    for key, sends in by_key.items():
        sends.sort(key=lambda s: s.seq)
        acknowledged = [index for index, save in enumerate(sends) if save.acknowledged]
        if not acknowledged:
            continue
        allowed = {save.value for save in sends[acknowledged[-1] :]}
        if stored.get(key) not in allowed:
            lost.append(key)
    return sorted(lost)


def slowest(saves: Iterable[Save], *, since: float, until: float) -> float | None:
    """The longest a save of the window waited for its answer (or gave up)."""
    waits = [s.done - s.sent for s in in_window(saves, since=since, until=until)]
    return max(waits) if waits else None


def missing(acknowledged: Iterable, present: Iterable) -> list:
    """What was acknowledged to a client but is not in the database."""
    return sorted(set(acknowledged) - set(present))


def catch_up(
    due: dict[object, float], seen_done: dict[object, float], *, now: float
) -> tuple[float | None, list]:
    """Work due by `now` (deadline or filing time) and when it was first seen done: the
    slowest lateness in seconds (None when none was done) and what is still not done."""
    pending = sorted(key for key, at in due.items() if at <= now and key not in seen_done)
    late = [max(0.0, seen_done[key] - at) for key, at in due.items() if key in seen_done]
    return (max(late) if late else None), pending


def status_counts(statuses: Iterable[int]) -> dict[int, int]:
    return dict(sorted(Counter(statuses).items()))


def fmt_statuses(counts: dict[int, int]) -> str:
    if not counts:
        return "none sent"
    return ", ".join(
        f"{'no answer' if status == NO_ANSWER else status}: {count:,}"
        for status, count in sorted(counts.items())
    )


def fmt_seconds(value: float | None, bound: float) -> str:
    return f"not within {bound:g} s" if value is None else f"{value:.1f} s"


def exit_code(results: list[ScenarioResult]) -> int:
    """Non-zero on any loss, any part not back within its bound, or a phase not run."""
    failed = any(r.status != "ran" or r.goals_missed for r in results)
    return 1 if failed else 0
