"""Fixtures of the sync tests: the fake records API as a real HTTP server (in a thread, or
as a subprocess for the multi-process tests) and the connector pointed at it."""

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from apps.sync.services import outbox_event_record
from doubles.records_api import DEFAULT_KEY_FIELDS, FakeRemote

APP_ID, API_KEY = "fake-app", "fake-key"


class Remote:
    """The fake seen from outside: its URL, its counters and its control knobs."""

    def __init__(self, url: str):
        self.url = url

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/__stats").json()

    def control(self, **changes) -> None:
        httpx.post(f"{self.url}/__control", json=changes).raise_for_status()

    def api(self, method: str, path: str = "", **kwargs):
        """A call to the records API of object_1, as another client of the remote would
        (it shares the per-second limit with us, so it waits out a 429)."""
        for _ in range(50):
            response = httpx.request(
                method,
                f"{self.url}/v1/objects/object_1/records{path}",
                headers={"X-Knack-Application-Id": APP_ID, "X-Knack-REST-API-KEY": API_KEY},
                **kwargs,
            )
            if response.status_code != 429:
                break
            time.sleep(0.2)
        return response.json()

    def records(self) -> list[dict]:
        return self.api("GET", params={"rows_per_page": 1000})["records"]


@pytest.fixture
def fake_remote():
    server = FakeRemote(
        rate=10, daily_quota=25000, app_id=APP_ID, api_key=API_KEY, key_fields=DEFAULT_KEY_FIELDS
    ).start()
    yield Remote(server.url)
    server.stop()


def connector_settings(url: str, **extra) -> dict:
    return {
        "records": {
            **django_settings.SYNC_CONNECTORS["records"],
            "BASE_URL": url,
            "APP_ID": APP_ID,
            "API_KEY": API_KEY,
            "DAILY_RESERVE": 0,
            **extra,
        }
    }


@pytest.fixture
def remote(settings, fake_remote):
    """The records connector configured against the fake remote."""
    settings.SYNC_CONNECTORS = connector_settings(fake_remote.url)
    settings.SYNC_HTTP_TIMEOUT = 2.0
    return fake_remote


def publish(key: str = "attempt:1", **payload):
    with transaction.atomic():
        return outbox_event_record(
            event_type="attempt.submitted",
            aggregate_type="attempt",
            aggregate_key=key,
            payload={"external_key": key, "employee_id": "T1001", "total_score": 7, **payload},
        )


# --- Subprocesses ------------------------------------------------------------------------
def subprocess_env(remote_url: str, **extra: str) -> dict:
    """The test database (test_<name>), the same Redis, the connector on the fake."""
    url = urlsplit(os.environ["DATABASE_URL"])
    database_url = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SYNC_RECORDS_BASE_URL": remote_url,
        "SYNC_RECORDS_APP_ID": APP_ID,
        "SYNC_RECORDS_API_KEY": API_KEY,
        "SYNC_RECORDS_DAILY_RESERVE": "0",
        "DB_POOL_MAX_SIZE": "2",
        **extra,
    }


def start_worker(
    env: dict, *queues: str, scheduler: bool = False, log=subprocess.DEVNULL
) -> subprocess.Popen:
    """`log`: an open file for the worker's output (tests that read what it logged)."""
    command = [sys.executable, "manage.py", "rqworker", *(queues or ("high", "default", "low"))]
    return subprocess.Popen(
        [*command, *(["--with-scheduler"] if scheduler else [])],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else subprocess.DEVNULL,
    )


@pytest.fixture
def fake_remote_process():
    """The fake as the benchmark runs it: `python -m doubles.records_api --port 0`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "doubles.records_api", "--port", "0", "--rate", "10"],
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    yield Remote(line.rsplit(" ", 1)[-1].strip())
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def workers():
    """Worker subprocesses started by a test, all stopped at its end."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
