"""The service heartbeat (apps/core/heartbeat.py): written by real gunicorn and RQ worker
processes, by a thread that outlives PostgreSQL being unreachable (a real client pointed at
a port nothing listens on, as in test_faults), one interval per stretch of beats, and gaps
and failures found by one query."""

import logging
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.core import heartbeat
from apps.core import outage as outage_module
from apps.core.models import ServiceInterval
from tests.sync.conftest import start_worker, subprocess_env

WAIT_SECONDS = 60


def wait_until(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.25)


@pytest.fixture(autouse=True)
def fresh_outages(monkeypatch):
    monkeypatch.setattr(outage_module, "_outages", {})


def intervals(role="web"):
    return list(ServiceInterval.objects.filter(role=role).order_by("started_at"))


# --- Beats ----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)  # a beat commits on a connection of its own
def test_beats_extend_one_interval_and_a_silence_starts_another(settings):
    settings.SERVICE_HEARTBEAT_SECONDS = 1
    assert heartbeat.beat("web")
    assert heartbeat.beat("web")
    [first] = intervals()
    assert first.last_seen > first.started_at
    # Silent for longer than three beats: the next beat starts a new interval.
    ServiceInterval.objects.filter(pk=first.pk).update(
        started_at=first.started_at - timedelta(seconds=60),
        last_seen=first.last_seen - timedelta(seconds=60),
    )
    assert heartbeat.beat("web")
    old, new = intervals()
    assert old.pk == first.pk and new.started_at > old.last_seen
    assert heartbeat.beat("worker") and len(intervals("worker")) == 1


@pytest.mark.django_db(transaction=True)
def test_only_the_first_beat_after_a_silence_calls_after_gap(settings):
    """Not the first beat ever, nor one that extends the interval: only the one that starts
    a new interval after an earlier one (the web's heartbeat credits an outage then)."""
    settings.SERVICE_HEARTBEAT_SECONDS = 1
    gaps = []
    assert heartbeat.beat("web", after_gap=lambda: gaps.append(1))
    assert heartbeat.beat("web", after_gap=lambda: gaps.append(2))
    assert gaps == []
    ServiceInterval.objects.update(
        started_at=timezone.now() - timedelta(seconds=90),
        last_seen=timezone.now() - timedelta(seconds=60),
    )
    assert heartbeat.beat("web", after_gap=lambda: gaps.append(3))
    assert heartbeat.beat("web", after_gap=lambda: gaps.append(4))
    assert gaps == [3] and len(intervals()) == 2


@pytest.fixture
def dead_database(monkeypatch):
    """The heartbeat's own connection pointed at a port nothing listens on, until `revive()`."""
    real = heartbeat._connection_params

    class Dead:
        def __call__(self):
            return {**real(), "host": "127.0.0.1", "port": 1}

        def revive(self):
            monkeypatch.setattr(heartbeat, "_connection_params", real)

    dead = Dead()
    monkeypatch.setattr(heartbeat, "_connection_params", dead)
    return dead


@pytest.mark.django_db(transaction=True)
def test_the_thread_survives_postgres_down_logs_once_and_beats_again(
    settings, dead_database, caplog
):
    settings.SERVICE_HEARTBEAT_SECONDS = 1
    caplog.set_level(logging.INFO, logger="crowdproof.outage")
    assert heartbeat.beat("web") is False  # no exception: a missing beat
    thread = heartbeat.Heartbeat("web")
    thread.start()
    try:
        time.sleep(2.5)  # a few failed beats
        assert thread.is_alive() and intervals() == []
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and warnings[0].getMessage().startswith("heartbeat")
        dead_database.revive()
        wait_until(lambda: intervals(), "a beat once PostgreSQL answers")
        assert any(r.getMessage() == "heartbeat available again" for r in caplog.records)
    finally:
        thread.stop()
        thread.join(5)
    assert not thread.is_alive()


def test_heartbeat_start_is_once_per_process_and_off_at_zero(settings, monkeypatch):
    started = []

    class Recorded(heartbeat.Heartbeat):
        def start(self):
            started.append(self.role)

        def is_alive(self):
            return True

    monkeypatch.setattr(heartbeat, "Heartbeat", Recorded)
    monkeypatch.setattr(heartbeat, "_started", {})
    settings.SERVICE_HEARTBEAT_SECONDS = 0
    assert heartbeat.heartbeat_start("web") is None
    settings.SERVICE_HEARTBEAT_SECONDS = 5
    first = heartbeat.heartbeat_start("web")
    assert heartbeat.heartbeat_start("web") is first
    heartbeat.heartbeat_start("worker")
    assert started == ["web", "worker"]


# --- Real processes -------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_and_the_rq_worker_write_their_heartbeats(tmp_path):
    env = subprocess_env("", SERVICE_HEARTBEAT_SECONDS="1", WEB_CONCURRENCY="1")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
        cwd=django_settings.BASE_DIR,
        env={**env, "GUNICORN_BIND": "127.0.0.1:0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = start_worker(env, "low")
    try:
        wait_until(lambda: intervals("web") and intervals("worker"), "both heartbeats")
        first = intervals("web")[0].last_seen
        wait_until(lambda: intervals("web")[-1].last_seen > first, "the web beating on")
        assert len(intervals("web")) == 1  # one interval, extended beat after beat
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(20)


# --- Gaps -----------------------------------------------------------------------------------
def interval(start, end, role="web"):
    return ServiceInterval.objects.create(role=role, started_at=start, last_seen=end)


@pytest.mark.django_db
def test_gaps_are_the_silences_between_intervals_overlaps_merged(settings):
    settings.SERVICE_HEARTBEAT_SECONDS = 5
    now = timezone.now()
    minutes = lambda n: now - timedelta(minutes=n)  # noqa: E731
    interval(minutes(60), minutes(40))
    interval(minutes(50), minutes(30))  # overlaps the first: the two are one stretch
    interval(minutes(20), minutes(10))  # 10 minutes after the stretch ended
    interval(minutes(10) + timedelta(seconds=30), now)  # 30 s after
    interval(minutes(60), minutes(15), role="worker")  # another role: no say
    gaps = heartbeat.service_gaps(since=minutes(120), longer_than=60)
    assert gaps == [(minutes(30), minutes(20))]
    assert len(heartbeat.service_gaps(since=minutes(120), longer_than=10)) == 2
    assert heartbeat.service_failing_at(minutes(25))
    assert heartbeat.service_failing_at(minutes(10) + timedelta(seconds=20))
    assert not heartbeat.service_failing_at(minutes(35))
    # Between two beats of a running interval: up, not failing.
    assert not heartbeat.service_failing_at(now + timedelta(seconds=10))
    # Still silent long after the last beat (an open gap): failing.
    assert heartbeat.service_failing_at(now + timedelta(minutes=2))


@pytest.mark.django_db
def test_with_no_heartbeat_recorded_nothing_counts_as_failing():
    assert not heartbeat.service_failing_at(timezone.now())
    assert heartbeat.service_gaps(since=timezone.now() - timedelta(days=1), longer_than=0) == []


@pytest.mark.django_db
def test_prune_forgets_old_intervals_but_keeps_each_roles_latest():
    now = timezone.now()
    old = interval(now - timedelta(days=30), now - timedelta(days=29))
    kept_old_worker = interval(now - timedelta(days=30), now - timedelta(days=29), "worker")
    recent = interval(now - timedelta(days=1), now)
    assert heartbeat.heartbeats_prune(now=now) == 1
    remaining = set(ServiceInterval.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, kept_old_worker.pk} and old.pk not in remaining
