"""`make run`: the whole app on one machine, supervised together.

Starts embedded PostgreSQL/Valkey when DATABASE_URL/REDIS_URL are not set, applies
migrations, loads the demo data, then runs gunicorn and RQ worker(s) with the scheduler.
Ctrl-C (or SIGTERM) stops the children, then the services. A child that dies is reported
and brings the rest down, so a broken worker is never hidden behind a healthy web server.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.embedded import EmbeddedServices

STOP_TIMEOUT_SECONDS = 20
CATCH_UP_COMMANDS = ("submit_expired_attempts", "requeue_triage", "sync_reconcile")


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
        children: dict[str, subprocess.Popen] = {}
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        try:
            self._manage("migrate", "--noinput")
            if not options["no_demo"]:
                self._manage("seed_demo")
            if not settings.DEBUG:
                self._manage("collectstatic", "--noinput")
            # Catch up on what a crash or a lost Redis left behind last time: attempts past
            # their deadline, triage jobs never run, outbox rows (this also restarts the
            # periodic outbox sweep). The workers pick the queued jobs up as they start.
            for catch_up in CATCH_UP_COMMANDS:
                self._manage(catch_up)
            children["web"] = self._spawn(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
                GUNICORN_BIND=options["bind"],
                WEB_CONCURRENCY=str(options["web_workers"]),
            )
            for number in range(1, options["rq_workers"] + 1):
                children[f"worker-{number}"] = self._spawn(
                    [
                        sys.executable,
                        "manage.py",
                        "rqworker",
                        "high",
                        "default",
                        "low",
                        "--with-scheduler",
                    ]
                )
            self._announce(options["bind"])
            self._supervise(children)
        finally:
            self._stop_children(children)
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

    def _spawn(self, command: list[str], **extra_env: str) -> subprocess.Popen:
        # A session of its own: the terminal's Ctrl-C reaches only this supervisor, which
        # then stops the children in order instead of all at once.
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env={**os.environ, **extra_env}, start_new_session=True
        )

    def _announce(self, bind: str) -> None:
        from apps.accounts.demo import DEMO_LOGINS

        self.stdout.write(self.style.SUCCESS(f"\nCrowdproof is up: http://{bind}/"))
        self.stdout.write(f"  admin: http://{bind}/admin/   health: /healthz   ready: /readyz")
        for role, username, password in DEMO_LOGINS:
            self.stdout.write(f"  {role:>14}: {username} / {password}")
        self.stdout.write("Press Ctrl-C to stop.\n")

    def _supervise(self, children: dict[str, subprocess.Popen]) -> None:
        while not self._stopping:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    raise CommandError(f"{name} (pid {child.pid}) exited with code {code}.")
            time.sleep(0.5)

    def _stop_children(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
