"""`make bench` / `make bench-quick`: start the production-like stack, run the scenarios,
check the data, write bench/results/<timestamp>.json, latest.json and latest.md
(cluster-<timestamp>.json, cluster-latest.* with --topology cluster).

    .venv/bin/python -m bench.run [--quick] [--only answer_save,ceilings] [--repeat N]
                                  [--data-dir DIR] [--topology single|cluster]

Exits 1 when a data check fails or a scenario errors (timing goals are only reported).

Embedded PostgreSQL and Valkey live under --data-dir (default .data/bench) and keep the bulk
data between runs; set DATABASE_URL / REDIS_URL to use servers you can wipe instead.
`--topology cluster` runs the same scenarios against `make cluster`'s topology instead
(bench/cluster.py: HAProxy over two gunicorn nodes, PostgreSQL + standby, Valkey + Sentinel),
with its data under --data-dir/cluster.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.cluster import ClusterStack
from bench.context import FULL, QUICK, SMOKE, Bench, Sizes
from bench.monitor import ProcessMonitor
from bench.report import (
    ScenarioResult,
    exit_code,
    fmt_bytes,
    gate_failures,
    merge_repeats,
    write_results,
)
from bench.stack import ROOT, Stack

RESULTS_DIR = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, short runs (< 3 min)")
    parser.add_argument("--smoke", action="store_true", help="seconds per scenario, tiny data")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "bench")
    parser.add_argument(
        "--web-workers",
        type=int,
        help="default: gunicorn.conf.py's; with --topology cluster, per node (default 2)",
    )
    parser.add_argument(
        "--topology",
        choices=("single", "cluster"),
        default="single",
        help="single: one gunicorn on one PostgreSQL and one Valkey; cluster: make cluster's",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the closed-loop throughput scenarios N times; report median and min-max",
    )
    return parser.parse_args(argv)


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = _fresh_workdir(args.data_dir / "runs", stamp)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    with _stack(args, workdir) as stack:
        _log(f"Starting PostgreSQL and Valkey under {stack.data_dir} ...")
        stack.start_services()
        import django

        django.setup()
        from bench.scenarios import SCENARIOS

        _prepare_database()
        _log("Starting gunicorn ...")
        stack.start_web()
        monitor = ProcessMonitor(roots=stack.role_roots)
        monitor.start()
        bench = Bench(sizes=sizes, stack=stack, monitor=monitor, workdir=workdir)
        only = selected(SCENARIOS, args.only)
        results: list[ScenarioResult] = []
        try:
            for scenario in SCENARIOS:
                if only and scenario.name not in only and not scenario.always:
                    continue
                runs = max(1, args.repeat) if scenario.repeatable else 1
                results.append(merge_repeats([_run_scenario(scenario, bench) for _ in range(runs)]))
        finally:
            monitor.stop()
        meta = _meta(sizes, stack, time.monotonic() - started)
        meta["topology"] = args.topology
        meta["repeat"] = max(1, args.repeat)
    # A cluster run never replaces the single stack's latest figures (the ones committed).
    prefix = "cluster-" if args.topology == "cluster" else ""
    markdown = write_results(args.results_dir, stamp, meta, results, prefix=prefix)
    print("\n" + markdown)
    print(
        f"Results: {args.results_dir / f'{prefix}latest.md'} and {prefix}{stamp}.json; "
        f"logs in {workdir}"
    )
    for failure in gate_failures(results):
        print(f"[bench] FAILED: {failure}", flush=True)
    return exit_code(results)


def _stack(args: argparse.Namespace, workdir: Path) -> Stack:
    if args.topology == "cluster":
        return ClusterStack(
            data_dir=args.data_dir / "cluster", log_dir=workdir, node_workers=args.web_workers or 2
        )
    return Stack(data_dir=args.data_dir, log_dir=workdir, web_workers=args.web_workers)


def selected(scenarios, only: str) -> set[str]:
    """The --only names with the scenarios they need (their data or reference rate); an
    empty set: all of them."""
    names = {name for name in only.split(",") if name}
    by_name = {scenario.name: scenario for scenario in scenarios}
    pending = list(names)
    while pending:
        scenario = by_name.get(pending.pop())
        for needed in scenario.requires if scenario else ():
            if needed not in names:
                names.add(needed)
                pending.append(needed)
    return names


def _fresh_workdir(runs: Path, stamp: str, keep: int = 3) -> Path:
    """This run's folder for plans, generator output and logs; older runs beyond `keep` go."""
    runs.mkdir(parents=True, exist_ok=True)
    for old in sorted(runs.iterdir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    workdir = runs / stamp
    workdir.mkdir()
    return workdir


def _run_scenario(scenario, bench: Bench) -> ScenarioResult:
    _log(f"{scenario.title} ...")
    began = time.monotonic()
    try:
        result = scenario.run(bench)
    except Exception as exc:  # one broken scenario must not hide the others' figures
        traceback.print_exc()
        result = ScenarioResult(scenario.name, scenario.title, status=f"failed: {exc!r}")
    result.details["seconds"] = round(time.monotonic() - began, 1)
    _log(f"{scenario.title}: done in {result.details['seconds']} s")
    return result


def _prepare_database() -> None:
    from django.core.management import call_command

    _log("Migrating, collecting static files ...")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    from bench.data import service_history_forget
    from bench.sessions import sessions_delete_previous

    sessions_delete_previous()  # the sessions earlier runs handed to the load generator
    service_history_forget()


def _meta(sizes: Sizes, stack: Stack, seconds: float) -> dict:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    from django_redis import get_redis_connection

    valkey = get_redis_connection("default").info("server")
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    return {
        "mode": sizes.mode,
        "sizes": asdict(sizes),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory": fmt_bytes(psutil.virtual_memory().total),
        "commit": _git_commit(),
        "python": platform.python_version(),
        "stack": (
            f"PostgreSQL {pg_version} (synchronous_commit={sync_commit}), Valkey "
            f"{valkey.get('valkey_version') or valkey.get('redis_version')}; {stack.describe()}; "
            f"psycopg pool max {pool['max_size']} per process, DEBUG off"
        ),
        "generators": "wrk (1 thread, Lua; closed loop), Python threads (open loop, scheduled "
        "arrivals; latency from the scheduled time)",
        "seconds": seconds,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_commit() -> str:
    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes" if git("status", "--porcelain") else "")


def _log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the stack has been stopped on the way out
        print("\n[bench] interrupted: every process it started is stopped.", flush=True)
        sys.exit(130)
