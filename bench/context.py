"""What every scenario gets: the sizes of this run, the running stack, and one way to put
load on it (closed-loop wrk or open-loop arrivals) with the generator's and stack's CPU."""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.arrivals import Arrival, ArrivalsResult, run_arrivals
from bench.load import (
    LoadResult,
    PlannedRequest,
    run_wrk,
    session_headers,
    write_plan,
    write_sessions,
)
from bench.monitor import CpuWindow, ProcessMonitor
from bench.report import ScenarioResult, fmt_int, fmt_latency, fmt_ms, fmt_pct, fmt_ratio
from bench.stack import Stack
from bench.stats import median_index, ratio


@dataclass(frozen=True)
class Throughput:
    """One measured run of a throughput: req/s and cores busy per role meanwhile."""

    rate: float
    cpu_cores: dict[str, float]


@dataclass(frozen=True)
class Sizes:
    """How much data and time each scenario gets: `make bench` vs `make bench-quick`."""

    mode: str
    teachers: int = 40_000
    warmup_s: float = 3
    ceiling_s: float = 15
    connections: int = 256
    answer_save_s: float = 30
    answer_sessions: int = 10_000
    profile_s: float = 10
    storm_attempts: int = 10_000
    storm_window_s: float = 30
    sync_drain_s: float = 60
    sync_fault_events: int = 150
    complaint_rate: float = 20
    complaint_burst_s: float = 15
    triage_round_s: float = 12
    llm_latency_ms: int = 200
    dashboard_answers: int = 1_000_000
    dashboard_complaints: int = 100_000
    dashboard_s: float = 10
    open_loop_s: float = 15  # per arrival rate, saves from the answer-save sessions
    start_teachers: int = 10_000
    start_window_s: float = 60


FULL = Sizes(mode="full")
QUICK = Sizes(
    mode="quick",
    teachers=10_000,
    warmup_s=1,
    ceiling_s=5,
    answer_save_s=8,
    answer_sessions=2_000,
    profile_s=0,
    storm_attempts=2_000,
    storm_window_s=6,
    sync_drain_s=10,
    sync_fault_events=30,
    complaint_rate=10,
    complaint_burst_s=4,
    triage_round_s=4,
    dashboard_answers=100_000,
    dashboard_complaints=10_000,
    dashboard_s=3,
    open_loop_s=4,
    start_teachers=2_000,
    start_window_s=12,
)


# A few seconds per scenario on small data: checks the harness itself, measures nothing.
SMOKE = Sizes(
    mode="smoke",
    teachers=2_000,
    warmup_s=1,
    ceiling_s=2,
    connections=32,
    answer_save_s=2,
    answer_sessions=200,
    profile_s=2,
    storm_attempts=200,
    storm_window_s=2,
    sync_drain_s=4,
    sync_fault_events=10,
    complaint_rate=4,
    complaint_burst_s=2,
    triage_round_s=3,
    dashboard_answers=20_000,
    dashboard_complaints=2_000,
    dashboard_s=2,
    open_loop_s=1,
    start_teachers=200,
    start_window_s=2,
)


@dataclass
class Bench:
    sizes: Sizes
    stack: Stack
    monitor: ProcessMonitor
    workdir: Path
    # name ("plain", "bare", "constant", "upsert", "answer_save"; the storms' "start" and
    # "submit") -> one entry per repeat
    throughputs: dict[str, list[Throughput]] = field(default_factory=dict)
    # What one scenario leaves for a later one (the storm's attempts for the sync drain).
    handover: dict[str, object] = field(default_factory=dict)
    _teachers: list = field(default_factory=list)

    def record(self, name: str, load: LoadResult | ArrivalsResult) -> None:
        self.throughputs.setdefault(name, []).append(Throughput(load.rate, load.cpu_cores))

    def throughput(self, name: str) -> Throughput | None:
        """The median run of `name` so far (with --repeat), or None if it was not measured."""
        runs = self.throughputs.get(name)
        if not runs:
            return None
        return runs[median_index([run.rate for run in runs])]

    @property
    def ceilings(self) -> dict[str, float]:
        """name -> req/s (the median run) of every throughput measured so far."""
        return {name: self.throughput(name).rate for name in self.throughputs}

    def teachers(self) -> list:
        """The bench teachers (imported once, then reused), in employee id order."""
        if len(self._teachers) < self.sizes.teachers:
            from bench.data import ensure_teachers

            self._teachers = ensure_teachers(self.sizes.teachers, self.workdir)
        return self._teachers

    def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        session: tuple[str, str] | None = None,
        data: dict[str, str] | None = None,
        htmx: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request outside any load (fragment sizes, data set-up through the real views)."""
        headers = {"X-Request-ID": "bench-fetch-" + method.lower()}
        if session:
            headers.update(session_headers(session))
        if htmx:
            headers["HX-Request"] = "true"
        body = urlencode(data or {}).encode()
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        target = urlsplit(self.stack.base_url)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def load(
        self,
        name: str,
        plan: Iterable[PlannedRequest],
        *,
        seconds: float,
        sessions: Sequence[tuple[str, str]] = (),
        connections: int | None = None,
        warmup: bool = True,
        base_url: str = "",
    ) -> LoadResult:
        """wrk over `plan` for `seconds` after a short warm-up on the same plan. The result's
        acks include the warm-up's (they wrote to the database too), in order."""
        plan_path = self.workdir / f"{name}.plan"
        write_plan(plan_path, plan)
        sessions_path = None
        if sessions:
            sessions_path = self.workdir / f"{name}.sessions"
            write_sessions(sessions_path, sessions)
        options = {
            "base_url": base_url or self.stack.base_url,
            "plan": plan_path,
            "sessions": sessions_path,
            "connections": connections or self.sizes.connections,
            "workdir": self.workdir,
        }
        warm_acks = run_wrk(seconds=self.sizes.warmup_s, **options).acks if warmup else []
        window = CpuWindow(self.monitor).start()
        result = run_wrk(seconds=seconds, **options)
        result.acks = warm_acks + result.acks
        result.cpu_cores = window.stop()
        self.stack.check_alive()
        return result

    def arrivals(self, arrivals: Sequence[Arrival], *, rate: float, **options) -> ArrivalsResult:
        window = CpuWindow(self.monitor).start()
        result = run_arrivals(base_url=self.stack.base_url, arrivals=arrivals, rate=rate, **options)
        result.cpu_cores = window.stop()
        self.stack.check_alive()
        return result

    def add_ceiling_ratios(self, result: ScenarioResult, rate: float) -> None:
        """A throughput as a share of this run's two ceilings."""
        for name, label in (("constant", "constant view"), ("upsert", "bare upsert view")):
            share = ratio(rate, self.ceilings.get(name))
            result.add(f"ratio to {label}", share, f"{fmt_ratio(share)} ({fmt_pct(share)})")

    @staticmethod
    def add_storm(
        result: ScenarioResult,
        load: ArrivalsResult,
        *,
        what: str,
        window_s: float,
        p99_goal_ms: float,
        note: str = "",
    ) -> None:
        """An open-loop storm: everything answered within its window, p50 / p95 / p99
        against its p99 goal, errors."""
        sent, answered = len(load.outcomes), len(load.ok)
        result.add(
            f"{what} answered",
            answered,
            f"{answered:,} of {sent:,} in {load.seconds:.1f} s{note}",
            f"all within {window_s:.0f} s",
            answered == sent and load.seconds <= window_s + 1,
        )
        p99 = load.latency_ms.get("p99", float("inf"))
        result.add(
            "p50 / p95 / p99",
            load.latency_ms,
            fmt_latency(load.latency_ms),
            f"p99 < {p99_goal_ms:,} ms",
            p99 < p99_goal_ms,
        )
        result.add("errors", load.failed, fmt_int(load.failed), "= 0", not load.failed)

    @staticmethod
    def add_app_time(result: ScenarioResult, load: LoadResult, label: str = "") -> None:
        """What the app itself reports per request (Server-Timing): time without queueing in
        front of the workers, and SQL queries."""
        prefix = f"{label}: " if label else ""
        app_ms, queries = load.server_ms_per_request, load.queries_per_request
        result.add(f"{prefix}app time per request (Server-Timing)", app_ms, fmt_ms(app_ms))
        text = "n/a" if queries is None else f"{queries:.2f}"
        result.add(f"{prefix}SQL queries per request", queries, text)

    @staticmethod
    def add_cpu(result: ScenarioResult, load: LoadResult | ArrivalsResult, label: str = ""):
        """Where the CPU went (cores busy per role) and the load generator's share of it."""
        prefix = f"{label}: " if label else ""
        parts = ", ".join(
            f"{role} {cores:.2f}" for role, cores in sorted(load.cpu_cores.items()) if cores >= 0.01
        )
        result.add(f"{prefix}CPU (cores busy)", load.cpu_cores, parts or "n/a")
        share = load.generator_cpu_share
        result.add(f"{prefix}load generator CPU share", share, fmt_pct(share))
