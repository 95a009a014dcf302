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
