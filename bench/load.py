"""Closed-loop load with Debian's wrk: a plan of requests replayed by bench/wrk/replay.lua.

wrk is C with LuaJIT, so on a 2-core machine it takes a small share of the CPU the server
needs; that share is measured (the wrk process's own CPU time from wait4) and reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import cpu_share

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk" / "replay.lua"


@dataclass(frozen=True)
class PlannedRequest:
    """One line of a plan. `id` must match [A-Za-z0-9._-]{8,64} (the app echoes it)."""

    id: str
    path: str
    method: str = "GET"
    session: int = 0  # 1-based index into the sessions file; 0 = anonymous
    body: str = ""
    htmx: bool = False


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    statuses: dict[int, int]
    body_bytes: int
    queries: int
    timed: int  # responses with a Server-Timing header (the app's own)
    server_ms: float = 0.0  # the app's time over those responses, queueing excluded
    query_counts: dict[int, int] = field(default_factory=dict)  # queries -> responses
    acks: list[str] = field(default_factory=list)
    generator_cpu_seconds: float = 0.0
    generator_cpu_share: float = 0.0
    cpu_cores: dict[str, float] = field(default_factory=dict)  # role -> cores busy

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def failed(self) -> int:
        """Requests that did not get a 2xx: error statuses and socket errors/timeouts."""
        socket_errors = sum(v for k, v in self.errors.items() if k != "status")
        return self.requests - self.ok + socket_errors

    @property
    def bytes_per_response(self) -> float:
        return self.body_bytes / self.requests if self.requests else 0.0

    @property
    def queries_per_request(self) -> float | None:
        return self.queries / self.timed if self.timed else None

    @property
    def server_ms_per_request(self) -> float | None:
        return self.server_ms / self.timed if self.timed else None


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages when missing (the bench runs as root
    on the bench machine; elsewhere install it yourself: `apt-get install wrk`)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("wrk is missing: run `sudo apt-get install wrk` (Debian/Ubuntu).")
    print("Installing wrk (apt-get) ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(["apt-get", "update", "-qq"], **quiet)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)
    return shutil.which("wrk") or "wrk"


def write_plan(path: Path, requests: Iterable[PlannedRequest]) -> int:
    count = 0
    with open(path, "w") as handle:
        for r in requests:
            flags = "hx" if r.htmx else ""
            handle.write(f"{r.id}\t{r.session}\t{r.method}\t{r.path}\t{r.body}\t{flags}\n")
            count += 1
    if not count:
        raise ValueError(f"empty plan {path}")
    return count


def write_sessions(path: Path, sessions: Iterable[tuple[str, ...]]) -> None:
    """(session key, CSRF secret[, save grant]) a line, as bench/wrk/replay.lua reads them."""
    with open(path, "w") as handle:
        for session in sessions:
            handle.write("\t".join(session) + "\n")


def session_headers(session: tuple[str, ...], *, htmx: bool = False) -> dict[str, str]:
    """The headers a logged-in browser sends on a POST: cookies, CSRF token, HTMX flag, and
    the take page's save grant when the session has one (bench/sessions.py)."""
    session_key, csrf, *grant = session
    headers = {"Cookie": f"sessionid={session_key}; csrftoken={csrf}", "X-CSRFToken": csrf}
    if grant:
        # Imported here: the bench loads this module before Django is set up.
        from apps.assessments.services import SAVE_GRANT_HEADER

        headers[SAVE_GRANT_HEADER] = grant[0]
    if htmx:
        headers["HX-Request"] = "true"
    return headers


def run_wrk(
    *,
    base_url: str,
    plan: Path,
    sessions: Path | None,
    seconds: float,
    connections: int,
    workdir: Path,
    threads: int = 1,
    timeout_s: int = 10,
) -> LoadResult:
    """Run wrk for `seconds` (the plan repeats if it runs out) and parse what it wrote."""
    out = workdir / f"{plan.stem}.wrk.tsv"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_PLAN": str(plan),
        "BENCH_SESSIONS": str(sessions or ""),
        "BENCH_THREADS": str(threads),
        "BENCH_OUT": str(out),
    }
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(LUA_SCRIPT),
        base_url,
    ]
    log = workdir / f"{plan.stem}.wrk.log"
    started = time.monotonic()
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            # wait4 reaps the child and returns its own CPU time: the generator's cost.
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({process.returncode}): {log.read_text()[-2000:]}")
    result = parse_wrk_output(out.read_text())
    result.generator_cpu_seconds = usage.ru_utime + usage.ru_stime
    result.generator_cpu_share = cpu_share(result.generator_cpu_seconds, wall, os.cpu_count() or 1)
    return result


def parse_wrk_output(text: str) -> LoadResult:
    """Parse the tab-separated lines that replay.lua's done() writes."""
    values: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    query_counts: Counter[int] = Counter()
    acks: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("\t")
        if key == "ack":
            acks.append(value)
        elif key.startswith("status_"):
            statuses[int(key.removeprefix("status_"))] += int(value)
        elif key.startswith("queries_"):
            query_counts[int(key.removeprefix("queries_"))] += int(value)
        else:
            values[key] = float(value)
    latency_ms = {
        name: values[f"latency_{name}_us"] / 1000
        for name in ("p50", "p90", "p95", "p99", "p99.9", "mean", "max")
    }
    errors = {
        kind: int(values[f"error_{kind}"])
        for kind in ("connect", "read", "write", "status", "timeout")
    }
    return LoadResult(
        requests=int(values["requests"]),
        seconds=values["duration_us"] / 1_000_000,
        latency_ms=latency_ms,
        errors=errors,
        statuses=dict(statuses),
        body_bytes=int(values["body_bytes"]),
        queries=int(values["queries"]),
        timed=int(values["timed"]),
        server_ms=values["server_ms"],
        query_counts=dict(query_counts),
        acks=acks,
    )
