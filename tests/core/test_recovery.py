"""The recovery sweep (apps/core/recovery.py), run in this process: what it redoes, what it
leaves alone, and that two sweeps never overlap."""

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rq.job import Job

from apps.assessments.models import Attempt
from apps.complaints.models import TriageJob
from apps.core import recovery
from apps.core.queues import get_queue, queue_redis
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.conftest import quiz  # noqa: F401  (fixture)
from tests.complaints.factories import TriageJobFactory
from tests.sync.conftest import publish

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timezone.timedelta(hours=1)


@pytest.fixture
def expired_attempt(quiz):  # noqa: F811
    from apps.assessments.services import attempt_start

    attempt = attempt_start(user=TeacherFactory(), assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=attempt.started_at)
    return attempt


def triage_job(state, updated_at):
    return TriageJobFactory(state=state, updated_at=updated_at, rq_job_id="triage-lost")


def test_the_sweep_redoes_every_kind_of_lost_work(
    expired_attempt, django_capture_on_commit_callbacks
):
    running = triage_job(TriageJob.State.RUNNING, LONG_AGO)  # its worker died mid-job
    queued = triage_job(TriageJob.State.QUEUED, LONG_AGO)  # its RQ job was lost with Redis
    event = publish()
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=OutboxEvent.Status.IN_FLIGHT, lease_expires_at=LONG_AGO, leased_by="dead"
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = recovery.recovery_sweep()
    assert done == {
        "attempts credited for an outage": 0,
        "attempts submitted": 1,
        "triage requeued": 2,
        "outbox leases reclaimed": 1,
        "heartbeat intervals pruned": 0,
    }
    expired_attempt.refresh_from_db()
    assert expired_attempt.status == Attempt.Status.SUBMITTED
    for job in (running, queued):
        job.refresh_from_db()
        assert job.state == TriageJob.State.QUEUED and job.rq_job_id != "triage-lost"
        assert Job.exists(job.rq_job_id, connection=queue_redis("high"))
    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.PENDING
    # Idempotent: nothing is left to redo.
    with django_capture_on_commit_callbacks(execute=True):
        again = recovery.recovery_sweep()
    assert not any(again.values())


def test_a_running_triage_job_gets_its_timeout_before_it_is_called_lost(settings):
    from apps.complaints.services import triage_job_timeout, triage_requeue_stale

    settings.TRIAGE_STALE_SECONDS = 30
    now = timezone.now()
    within = triage_job(TriageJob.State.RUNNING, now - timezone.timedelta(seconds=60))
    past = triage_job(
        TriageJob.State.RUNNING,
        now - timezone.timedelta(seconds=triage_job_timeout() + 31),
    )
    assert triage_requeue_stale() == [past.complaint.reference]
    within.refresh_from_db()
    assert within.state == TriageJob.State.RUNNING


def test_two_sweeps_never_overlap():
    url = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in url.items() if k != "cursor_factory"}) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [recovery.ADVISORY_LOCK_KEY])
        assert recovery.recovery_sweep() == {"skipped": "another sweep is running"}
        # Released here, not by the disconnect: a backend that is still exiting holds it.
        other.execute("SELECT pg_advisory_unlock(%s)", [recovery.ADVISORY_LOCK_KEY])
    assert "skipped" not in recovery.recovery_sweep()


def test_arming_is_once_per_slot():
    queue = get_queue(recovery.QUEUE)
    queue.empty()
    slot = recovery.recovery_slot()
    assert recovery.recovery_arm(slot=slot) is True
    assert recovery.recovery_arm(slot=slot) is False  # another worker, same slot
    assert recovery.recovery_arm(slot=slot + 1) is True
    assert queue.job_ids[0] == f"recovery-{slot + 1}"  # at the front: recovery never waits
    queue.empty()
