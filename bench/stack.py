"""The production-like stack the bench measures, started and stopped by the bench itself.

PostgreSQL and Valkey are embedded (apps/core/embedded.py, data under the bench folder) unless
DATABASE_URL / REDIS_URL are given. gunicorn runs with config/gunicorn.conf.py and RQ workers
with `manage.py rqworker`, every child in a process group of its own, so one Ctrl-C reaches
only the bench, which then stops every child it started (and nothing else).

This module must import without Django configured: the services start before Django does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from apps.core.embedded import DATABASE_NAME, EmbeddedServices

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 20
READY_TIMEOUT_SECONDS = 60
WORKER_QUEUES = ("high", "default", "low")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # refused, reset, timed out (URLError is one too)
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[2:4]} exited with code {process.returncode}.")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s.")
        time.sleep(0.3)


def gunicorn_setting(name: str):
    """As the web server reads it: the same file, in the same environment."""
    return runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))[name]


def migrations_fingerprint() -> str:
    """Changes whenever any migration file does: cached bench data is only kept while the
    schema it was loaded into is the schema on disk."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("apps/*/migrations/*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def secret_key(data_dir: Path) -> str:
    """Stable across runs of one bench folder, random for each new folder."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def loopback_env(data_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off) for a stack on loopback whose services live under
    `data_dir`: what the bench and the drill run the app with."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": secret_key(data_dir),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no TLS redirect, no HTTPS-only cookies, no HSTS.
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        # Rate limiting stays on (its cost is part of every request), but every bench
        # request comes from 127.0.0.1: per-client-address limits are raised out of the
        # way. Per-teacher limits (answer saves) keep their production values.
        "COMPLAINTS_FILE_RATE_LIMIT": "1000000/m",
        "COMPLAINTS_STATUS_RATE_LIMIT": "1000000/m",
        "LOGIN_RATE_LIMIT": "1000000/m",
        "BENCH_CEILINGS": "true",
        "CROWDPROOF_DATA_DIR": str(data_dir / "services"),
        "PRIVATE_MEDIA_ROOT": str(data_dir / "media"),
    }


@dataclass
class Child:
    """One supervised process (a gunicorn master, an RQ worker): it has its own group."""

    role: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.role} (pid {self.pid}) exited with code {self.process.returncode}; "
                f"see {self.log}"
            )

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def reap(self, deadline: float) -> None:
        """Wait for the child until `deadline` (monotonic), then kill its whole group, so
        nothing it started (a gunicorn worker whose master died) is left behind."""
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[bench] {self.role} did not stop in time; killing it.", flush=True)
        self.signal(signal.SIGKILL)
        self.process.wait()


def stop_children(children: list[Child]) -> None:
    """SIGTERM to all (RQ workers finish their job, gunicorn its requests), then wait."""
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        child.reap(deadline)


@dataclass
class Stack:
    """Services, web and workers of one bench run. Use as a context manager."""

    data_dir: Path
    log_dir: Path  # one log file per child
    web_workers: int | None = None  # None: config/gunicorn.conf.py's default (2 x cores)
    env: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    services: EmbeddedServices | None = None
    web: Child | None = None
    workers: list[Child] = field(default_factory=list)
    helpers: list[Child] = field(default_factory=list)  # fake LLM, fake records API
    ceiling_webs: dict[str, Child] = field(default_factory=dict)  # role -> extra gunicorn
    workers_started: int = 0  # numbers worker names and logs uniquely

    # --- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start_services(self) -> None:
        """Embedded PostgreSQL / Valkey where no URL is given, then the environment that
        Django (this process) and every child reads its settings from."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        need_pg = not os.environ.get("DATABASE_URL")
        need_valkey = not os.environ.get("REDIS_URL")
        urls = {key: os.environ[key] for key in ("DATABASE_URL", "REDIS_URL") if key in os.environ}
        if need_pg or need_valkey:
            self.services = EmbeddedServices(data_dir=self.data_dir / "services")
            urls.update(self.services.start(postgres=need_pg, valkey=need_valkey))
        if need_pg:
            self._reset_database_if_schema_changed(urls["DATABASE_URL"])
        self.env = {**urls, **loopback_env(self.data_dir)}
        os.environ.update(self.env)

    def start_web(self) -> None:
        self.web, self.base_url = self._start_gunicorn("web", "config.wsgi", {})

    def start_ceiling_web(self, role: str, app: str, extra_env: dict[str, str]) -> str:
        """A second gunicorn with the same config file and workers serving another WSGI app
        (plain WSGI, Django without middleware); returns its base URL."""
        child, base_url = self._start_gunicorn(role, app, extra_env)
        self.ceiling_webs[role] = child
        return base_url

    def stop_ceiling_webs(self) -> None:
        stop_children(list(self.ceiling_webs.values()))
        self.ceiling_webs.clear()

    def _start_gunicorn(self, role: str, app: str, extra_env: dict[str, str]):
        port = free_port()
        extra = {**extra_env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        if self.web_workers:
            extra["WEB_CONCURRENCY"] = str(self.web_workers)
        command = [sys.executable, "-m", "gunicorn", app, "-c", "config/gunicorn.conf.py"]
        child = self._spawn(role, command, extra)
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base_url}/healthz", timeout=READY_TIMEOUT_SECONDS, process=child.process)
        return child, base_url

    def start_workers(self, count: int, *, extra_env: dict[str, str] | None = None) -> None:
        """`count` more RQ workers on every queue (one of them runs the scheduler)."""
        from django_rq import get_connection
        from rq import Worker

        connection = get_connection("default")
        names = set()
        for _ in range(count):
            self.workers_started += 1
            number = self.workers_started
            name = f"bench-{os.getpid()}-{number}"
            names.add(name)
            command = [
                sys.executable,
                "manage.py",
                "rqworker",
                *WORKER_QUEUES,
                "--with-scheduler",
                "--name",
                name,
            ]
            self.workers.append(self._spawn(f"worker-{number}", command, extra_env or {}))
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        # By name, not by count: the registration of a worker killed in an earlier run
        # expires meanwhile, and a count would then never reach its target.
        while not names <= {worker.name for worker in Worker.all(connection=connection)}:
            for worker in self.workers:
                worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} RQ workers did not register in time.")
            time.sleep(0.2)

    def stop_workers(self) -> None:
        stop_children(self.workers)
        self.workers.clear()

    def start_helper(self, role: str, module: str, *args: str) -> tuple[Child, str]:
        """`python -m module --port P *args` (a fake remote service); returns its base URL."""
        port = free_port()
        command = [sys.executable, "-m", module, "--port", str(port), *args]
        helper = self._spawn(role, command, {})
        self.helpers.append(helper)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return helper, f"http://127.0.0.1:{port}"
            helper.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{role} did not listen on port {port} in time.")
            time.sleep(0.2)

    def stop_helper(self, helper: Child) -> None:
        stop_children([helper])
        self.helpers.remove(helper)

    def stop(self) -> None:
        stop_children(
            [
                *self.workers,
                *self.helpers,
                *self.ceiling_webs.values(),
                *([self.web] if self.web else []),
            ]
        )
        self.workers.clear()
        self.helpers.clear()
        self.ceiling_webs.clear()
        self.web = None
        if self.services is not None:
            self.services.stop()
            self.services = None

    def check_alive(self) -> None:
        for child in [self.web, *self.workers]:
            if child is not None:
                child.check_alive()

    # --- what the report and the monitor see ----------------------------------------------
    def role_roots(self) -> dict[str, list[int]]:
        """role -> root pids, for the CPU and memory monitor (bench/monitor.py)."""
        roots = {role: [child.pid] for role, child in self.ceiling_webs.items()}
        roots["rq worker"] = [worker.pid for worker in self.workers]
        return {**roots, **self.server_roots()}

    def server_roots(self) -> dict[str, list[int]]:
        """The gunicorn master, the PostgreSQL postmaster and the Valkey server (the last two
        when they run on this machine). Needs Django configured."""
        from django.db import connection
        from django_redis import get_redis_connection

        roots = {"web": [self.web.pid]} if self.web is not None else {}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                roots["postgres"] = [psutil.Process(cursor.fetchone()[0]).ppid()]
            roots["valkey"] = [get_redis_connection("default").info("server")["process_id"]]
        except Exception:  # a remote server: nothing to sample here
            pass
        return roots

    def describe(self) -> str:
        """The servers and web processes, for the report's stack line."""
        services = "embedded" if self.services is not None else "given URLs"
        workers = len(psutil.Process(self.web.pid).children()) if self.web else 0
        return (
            f"PostgreSQL and Valkey {services}; one gunicorn, {workers} gthread workers x "
            f"{gunicorn_setting('threads')} threads"
        )

    # --- helpers ------------------------------------------------------------------------
    def _spawn(self, role: str, command: list[str], extra_env: dict[str, str]) -> Child:
        log = self.log_dir / f"{role}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **self.env, **extra_env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Child(role=role, process=process, log=log)

    def _reset_database_if_schema_changed(self, url: str) -> None:
        """The bench data is cached between runs; a migration edited since then (as happens
        while a feature is being built) means a fresh database rather than a broken one."""
        import psycopg

        marker = self.data_dir / "schema_fingerprint"
        fingerprint = migrations_fingerprint()
        if marker.exists() and marker.read_text() == fingerprint:
            return
        admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
        marker.write_text(fingerprint)
