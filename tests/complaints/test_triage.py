import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from django.core.management import call_command
from django.utils import timezone
from rq.job import Job, JobStatus

from apps.complaints import triage
from apps.complaints.models import Category, Complaint, ComplaintEvent, TriageJob
from apps.complaints.selectors import triage_choices
from apps.complaints.services import (
    complaint_file,
    due_at_for,
    triage_requeue,
    triage_retry_intervals,
    triage_run,
)
from tests.complaints.conftest import GOOD_DESCRIPTION

pytestmark = pytest.mark.django_db

CHOICES = triage.TriageChoices(
    categories={"bribery": "Bribery"}, sectors={"police": "Police"}, acts={"pca-7": "PCA s. 7"}
)


def file(django_capture_on_commit_callbacks, description=GOOD_DESCRIPTION):
    with django_capture_on_commit_callbacks(execute=True):
        return complaint_file(description=description, anonymous=True).complaint


def refreshed(complaint):
    complaint.refresh_from_db()
    complaint.triage_job.refresh_from_db()
    return complaint


def test_the_rule_backend_classifies_through_the_worker(
    reference_data, run_worker, django_capture_on_commit_callbacks
):
    complaint = file(django_capture_on_commit_callbacks)
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.state == TriageJob.State.DONE
    assert complaint.status == Complaint.Status.TRIAGED
    assert (complaint.category.code, complaint.sector.code, complaint.act.code) == (
        "bribery",
        "land-revenue",
        "pca-7",
    )
    assert complaint.triage_confidence >= 0.6
    assert (complaint.triage_backend, complaint.triage_model, complaint.triage_prompt_version) == (
        "rules",
        "keyword-rules",
        triage.PROMPT_VERSION,
    )
    assert complaint.triage_details["what"]["source"].startswith("The clerk at the tehsil office")
    assert complaint.due_at == complaint.received_at + timezone.timedelta(
        days=Category.objects.get(code="bribery").sla_days
    )
    assert ComplaintEvent.objects.filter(complaint=complaint, action="triaged").exists()


def test_no_matching_rule_goes_to_manual_triage(
    reference_data, run_worker, django_capture_on_commit_callbacks
):
    complaint = file(
        django_capture_on_commit_callbacks, "Nothing of note happened at all today, really nothing."
    )
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.state == TriageJob.State.MANUAL
    assert complaint.triage_job.reason == triage.ERR_NO_CATEGORY
    assert complaint.category is None and complaint.status == Complaint.Status.RECEIVED


def test_a_second_delivery_of_the_same_job_does_nothing(
    reference_data, queue, django_capture_on_commit_callbacks
):
    complaint = file(django_capture_on_commit_callbacks)
    assert triage_run(triage_job_id=complaint.triage_job.pk).state == TriageJob.State.DONE
    assert triage_run(triage_job_id=complaint.triage_job.pk) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "jaywalking"}, "Unknown category 'jaywalking'"),
        ({"sector": "space"}, "Unknown sector 'space'"),
        ({"act": "act-99"}, "Unknown act 'act-99'"),
        ({"confidence": 0.3}, "Confidence 0.30 is below the threshold 0.60."),
        ({"confidence": "high"}, "The confidence 'high' is not a number between 0 and 1."),
        ({"confidence": 7}, "The confidence 7 is not a number between 0 and 1."),
        ({"who": "the clerk"}, "The field 'who' is missing or malformed."),
        ({"category": None}, triage.ERR_NO_CATEGORY),
    ],
)
def test_answers_are_validated_against_the_tables(change, message):
    part = {"value": "v", "source": "s"}
    answer = {name: part for name in triage.FIVE_W_ONE_H}
    answer.update(category="bribery", sector="police", act="pca-7", confidence=0.9, summary="x")
    assert triage.answer_validate(answer, choices=CHOICES, min_confidence=0.6).category == "bribery"
    answer.update(change)
    with pytest.raises(
        triage.TriageRejected, match=message.replace("(", r"\(").replace(".", r"\.")
    ):
        triage.answer_validate(answer, choices=CHOICES, min_confidence=0.6)
    with pytest.raises(triage.TriageRejected, match=triage.ERR_NOT_AN_OBJECT):
        triage.answer_validate(["bribery"], choices=CHOICES, min_confidence=0.6)


def test_the_http_backend_with_a_good_answer(
    reference_data, fake_llm, run_worker, settings, django_capture_on_commit_callbacks
):
    settings.TRIAGE_MAX_INPUT_CHARS = 200
    complaint = file(django_capture_on_commit_callbacks, GOOD_DESCRIPTION + " More words." * 500)
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.state == TriageJob.State.DONE
    assert complaint.category.code == "bribery" and complaint.act.code == "pca-7"
    assert (complaint.triage_backend, complaint.triage_model) == ("openai", "fake-model")
    assert complaint.triage_confidence == 0.91
    [request] = fake_llm.requests
    assert request["model"] == "fake-model"
    schema = request["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert "bribery" in schema["schema"]["properties"]["category"]["enum"]
    # The input was truncated to a bounded length.
    user = request["messages"][-1]["content"]
    assert len(user.split("Complaint:\n", 1)[1]) == 200


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "The answer is not valid JSON"),
        ("unknown", "Unknown category 'jaywalking'"),
        ("low", "Confidence 0.20 is below the threshold"),
    ],
)
def test_untrustworthy_http_answers_go_to_manual_triage(
    reference_data, fake_llm, run_worker, django_capture_on_commit_callbacks, mode, reason
):
    fake_llm.mode = mode
    complaint = file(django_capture_on_commit_callbacks)
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.state == TriageJob.State.MANUAL
    assert complaint.triage_job.reason.startswith(reason)
    assert complaint.category is None  # nothing invented
    assert complaint.triage_backend == "openai"
    event = ComplaintEvent.objects.get(complaint=complaint, action="triage_manual")
    assert event.detail["reason"].startswith(reason)
    assert len(fake_llm.requests) == 1  # not retried


def test_429_and_500_are_retried_by_rq_then_succeed(
    reference_data, fake_llm, run_worker, django_capture_on_commit_callbacks
):
    fake_llm.script = ["429", "500"]
    complaint = file(django_capture_on_commit_callbacks)
    run_worker()
    complaint = refreshed(complaint)
    assert len(fake_llm.requests) == 3
    assert complaint.triage_job.attempts == 3
    assert complaint.triage_job.state == TriageJob.State.DONE
    assert complaint.category.code == "bribery"


def test_a_slow_answer_times_out_and_is_retried(
    reference_data, fake_llm, run_worker, django_capture_on_commit_callbacks
):
    fake_llm.script = ["slow"]
    complaint = file(django_capture_on_commit_callbacks)
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.attempts == 2
    assert complaint.triage_job.state == TriageJob.State.DONE


def test_after_the_last_try_triage_fails_with_the_error_and_can_be_requeued(
    reference_data, fake_llm, run_worker, queue, officer, django_capture_on_commit_callbacks
):
    fake_llm.mode = "500"
    complaint = file(django_capture_on_commit_callbacks)
    rq_job_id = complaint.triage_job.rq_job_id
    run_worker()
    complaint = refreshed(complaint)
    assert len(fake_llm.requests) == 3  # TRIAGE_MAX_ATTEMPTS in the tests
    assert complaint.triage_job.state == TriageJob.State.FAILED
    assert complaint.triage_job.reason.startswith("HTTP 500 from the triage API")
    assert complaint.status == Complaint.Status.RECEIVED and complaint.category is None
    assert ComplaintEvent.objects.filter(complaint=complaint, action="triage_failed").count() == 1
    assert Job.fetch(rq_job_id, connection=queue.connection).get_status() == JobStatus.FINISHED

    fake_llm.mode = "good"
    with django_capture_on_commit_callbacks(execute=True):
        assert triage_requeue(complaint_ids=[complaint.pk], by=officer) == [complaint.reference]
    assert queue.count == 1
    run_worker()
    complaint = refreshed(complaint)
    assert complaint.triage_job.state == TriageJob.State.DONE
    assert complaint.triage_job.attempts == 1


def test_requeue_skips_jobs_that_are_still_pending(reference_data, queue, officer):
    complaint = complaint_file(description=GOOD_DESCRIPTION, anonymous=True).complaint
    assert triage_requeue(complaint_ids=[complaint.pk], by=officer) == []


def test_the_sweeper_requeues_a_job_lost_with_redis(
    reference_data, queue, run_worker, django_capture_on_commit_callbacks
):
    complaint = file(django_capture_on_commit_callbacks)
    waiting = file(django_capture_on_commit_callbacks)
    assert queue.count == 2
    # Redis lost the first job (restart without persistence); both rows look stale.
    Job.fetch(complaint.triage_job.rq_job_id, connection=queue.connection).delete()
    TriageJob.objects.update(updated_at=timezone.now() - timezone.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("requeue_triage", "--older-than", "60", stdout=(out := _Out()))
    assert f"requeued {complaint.reference}" in out.text
    assert waiting.reference not in out.text  # still waiting in Redis: left alone
    assert "1 triage job(s) requeued." in out.text
    run_worker()
    assert refreshed(complaint).triage_job.state == TriageJob.State.DONE
    assert refreshed(waiting).triage_job.state == TriageJob.State.DONE


def test_the_sweeper_leaves_recent_jobs_alone(reference_data, queue):
    complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
    queue.empty()
    call_command("requeue_triage", stdout=(out := _Out()))
    assert "0 triage job(s) requeued." in out.text


def test_triage_choices_come_from_the_tables(reference_data):
    choices = triage_choices()
    assert {"bribery", "abuse-of-power", "procurement-fraud"} <= set(choices.categories)
    assert "education" in choices.sectors
    assert choices.acts["pca-7"] == "Prevention of Corruption Act, 1988 s. 7"


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, value):
        self.text += value


def testtriage_retry_intervals_back_off_exponentially_with_a_cap_and_jitter(settings):
    settings.TRIAGE_RETRY_BASE_SECONDS, settings.TRIAGE_RETRY_MAX_SECONDS = 5, 20
    settings.TRIAGE_MAX_ATTEMPTS = 6
    samples = [triage_retry_intervals() for _ in range(200)]
    assert all(len(intervals) == 5 for intervals in samples)
    for retry, ceiling in enumerate([5, 10, 20, 20, 20]):
        values = {intervals[retry] for intervals in samples}
        assert max(values) <= ceiling and min(values) >= 0
        assert len(values) > 1  # jittered, so workers do not retry in lockstep


def test_the_fake_server_runs_as_a_module_for_the_benchmark():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "doubles.llm", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert "fake OpenAI-compatible API" in proc.stdout.readline()
        backend = triage.OpenAIBackend(
            api_base=f"http://127.0.0.1:{port}/v1", api_key="k", model="m", timeout=5
        )
        answer = backend.classify(text=triage.TriageInput(GOOD_DESCRIPTION), choices=CHOICES)
        assert answer["category"] == "bribery"
        control = urllib.request.Request(
            f"http://127.0.0.1:{port}/_control", data=json.dumps({"mode": "500"}).encode()
        )
        urllib.request.urlopen(control, timeout=5).close()
        with pytest.raises(triage.TriageTransientError, match="HTTP 500"):
            backend.classify(text=triage.TriageInput(GOOD_DESCRIPTION), choices=CHOICES)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_the_sla_comes_from_settings_then_the_category(reference_data, settings):
    now = timezone.now()
    bribery = Category.objects.get(code="bribery")
    assert due_at_for(now, bribery) == now + timezone.timedelta(days=bribery.sla_days)
    settings.COMPLAINTS_SLA_DAYS = {"bribery": 7}
    assert due_at_for(now, bribery) == now + timezone.timedelta(days=7)
    settings.COMPLAINTS_DEFAULT_SLA_DAYS = 12
    assert due_at_for(now, None) == now + timezone.timedelta(days=12)
