"""`make run`: the whole app on one machine, supervised together.

Starts embedded PostgreSQL/Valkey when DATABASE_URL/REDIS_URL are not set, applies
migrations, loads the demo data, then runs gunicorn and RQ worker(s) with the scheduler.
It is a supervisor: a child that dies (the gunicorn master, a worker) and an embedded
service that dies (PostgreSQL, Valkey) are started again, each with capped exponential
back-off (apps.core.backoff), one log line per restart. What a lost job left undone is
redone by the workers' own recovery sweep (apps.core.recovery), here and in production.
Ctrl-C (or SIGTERM) stops the workers first, then the web server, then the services, so
nothing is left talking to a server that is already gone.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.backoff import Backoff
from apps.core.embedded import EmbeddedServices

STOP_TIMEOUT_SECONDS = 20
POLL_SECONDS = 0.5


@dataclass
class Part:
    """One supervised thing: `start()` (re)starts it, `exit_reason()` is None while it runs."""

    name: str
    start: Callable[[], None]
    exit_reason: Callable[[], str | None]
    backoff: Backoff = field(default_factory=Backoff)
    restart_at: float | None = None


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def exit_reason(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"pid {self.process.pid} exited with code {code}"


def default_bind() -> str:
    """One documented way to choose the address: GUNICORN_BIND, or PORT on loopback."""
    if os.environ.get("GUNICORN_BIND"):
        return os.environ["GUNICORN_BIND"]
    return f"127.0.0.1:{os.environ.get('PORT') or 8000}"


def ensure_bind_free(bind: str) -> None:
    """Refuse a taken port with one line that says how to pick another, before gunicorn
    would loop on "Address already in use"."""
    host, _, port = bind.rpartition(":")
    if not port.isascii() or not port.isdigit():
        raise CommandError(f"--bind {bind!r} is not host:port (e.g. 127.0.0.1:8000).")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # gunicorn sets SO_REUSEADDR too: a port in TIME_WAIT is free for it, and for us.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {host} port {port}: {error.strerror}. Is another "
                f"`make run` up? Choose another port: make run PORT={int(port) + 1} "
                f"(or GUNICORN_BIND=host:port)."
            ) from None


class Command(BaseCommand):
    help = "Run web + worker (and embedded PostgreSQL/Valkey when no URLs are set)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=default_bind(),
            help="address:port for the web server (default: $GUNICORN_BIND, else "
            "127.0.0.1:$PORT, else 127.0.0.1:8000)",
        )
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--rq-workers", type=int, default=1)
        parser.add_argument("--no-demo", action="store_true", help="skip seed_demo")

    def handle(self, *args, **options):
        self._stopping = False
        ensure_bind_free(options["bind"])  # before minutes of start-up, not after
        services = None
        if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
            data_dir = Path(os.environ.get("CROWDPROOF_DATA_DIR", settings.BASE_DIR / ".data"))
            services = EmbeddedServices(data_dir=data_dir)
            self.stdout.write(f"Starting embedded services under {data_dir} ...")
            os.environ.update(
                services.start(
                    postgres=not os.environ.get("DATABASE_URL"),
                    valkey=not os.environ.get("REDIS_URL"),
                )
            )
        web = Child(
            "web",
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
            {"GUNICORN_BIND": options["bind"], "WEB_CONCURRENCY": str(options["web_workers"])},
        )
        worker_command = [sys.executable, "manage.py", "rqworker", "high", "default", "low"]
        workers = [
            Child(f"worker-{number}", [*worker_command, "--with-scheduler"])
            for number in range(1, options["rq_workers"] + 1)
        ]
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        try:
            self._manage("migrate", "--noinput")
            if not options["no_demo"]:
                self._manage("seed_demo")
            if not settings.DEBUG:
                self._manage("collectstatic", "--noinput")
            # What a crash or a lost Redis left behind last time (attempts past their
            # deadline, triage, the outbox) is redone by the workers' recovery sweep, which
            # each worker arms as it starts: no catch-up command here.
            parts = [self._service_part(services, n) for n in services.urls] if services else []
            for child in (web, *workers):
                self._spawn(child)
                parts.append(Part(child.name, lambda c=child: self._spawn(c), child.exit_reason))
            self._announce(options["bind"])
            self._supervise(parts)
        finally:
            # Workers first: they finish their job and deregister from a Redis that is
            # still there; then the web server; then the services they both use.
            self._stop_children(workers)
            self._stop_children([web])
            if services is not None:
                self.stdout.write("Stopping embedded services ...")
                services.stop()
            self.stdout.write("Stopped.")

    def _request_stop(self, signum, frame):
        self._stopping = True

    def _manage(self, *command: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=settings.BASE_DIR)
        if result.returncode != 0:
            raise CommandError(f"`manage.py {' '.join(command)}` failed ({result.returncode}).")

    def _spawn(self, child: Child) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only this supervisor, which
        # then stops the children in order instead of all at once.
        child.process = subprocess.Popen(
            child.command,
            cwd=settings.BASE_DIR,
            env={**os.environ, **child.env},
            start_new_session=True,
        )

    @staticmethod
    def _service_part(services: EmbeddedServices, url_name: str) -> Part:
        name = "postgres" if url_name == "DATABASE_URL" else "valkey"
        return Part(
            name,
            lambda: services.restart(name),
            lambda: "stopped" if name in services.dead() else None,
        )

    def _announce(self, bind: str) -> None:
        from apps.accounts.demo import DEMO_LOGINS

        self.stdout.write(self.style.SUCCESS(f"\nCrowdproof is up: http://{bind}/"))
        self.stdout.write(f"  admin: http://{bind}/admin/   health: /healthz   ready: /readyz")
        for role, username, password in DEMO_LOGINS:
            self.stdout.write(f"  {role:>14}: {username} / {password}")
        self.stdout.write("Press Ctrl-C to stop.\n")

    def _supervise(self, parts: list[Part]) -> None:
        """Services come first in `parts`: the children need them."""
        now = time.monotonic()
        for part in parts:
            part.backoff.started(now)
        while not self._stopping:
            for part in parts:
                now = time.monotonic()
                if part.restart_at is None:
                    reason = part.exit_reason()
                    if reason is not None:
                        self._schedule_restart(part, now, reason)
                elif now >= part.restart_at:
                    try:
                        part.start()
                    except Exception as error:  # a service that will not start: try later
                        self._schedule_restart(part, now, f"restart failed: {error}")
                    else:
                        part.restart_at = None
                        part.backoff.started(now)
            time.sleep(POLL_SECONDS)

    def _schedule_restart(self, part: Part, now: float, reason: str) -> None:
        delay = part.backoff.failed(now)
        part.restart_at = now + delay
        self.stderr.write(f"{part.name}: {reason}; restarting in {delay:g} s.")

    def _stop_children(self, children: list[Child]) -> None:
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in time; killing it.")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
