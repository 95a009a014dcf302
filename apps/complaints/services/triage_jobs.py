"""Triage jobs: enqueue, claim, run one attempt against the backend, record its outcome,
requeue. The backends and the validation of their answers are in apps.complaints.triage."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from apps.complaints import triage
from apps.complaints.models import Act, Category, Complaint, ComplaintEvent, Sector, TriageJob
from apps.complaints.selectors import triage_choices, triage_jobs_stale, triage_rules_active
from apps.complaints.services.audit import event_record
from apps.complaints.services.dashboard import dashboard_invalidate_on_commit
from apps.complaints.services.deadlines import due_at_reclassified
from apps.complaints.services.lifecycle import complaint_transition
from apps.core.backoff import full_jitter
from apps.core.queues import get_queue, queue_redis

RQ_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class TriageRetry(Exception):
    """Raised by triage_run after recording a transient failure, so that RQ retries the job."""


def triage_retry_intervals() -> list[int]:
    """Capped exponential backoff with full jitter, one interval per retry."""
    base, cap = settings.TRIAGE_RETRY_BASE_SECONDS, settings.TRIAGE_RETRY_MAX_SECONDS
    return [
        round(full_jitter(attempt, base=base, cap=cap))
        for attempt in range(settings.TRIAGE_MAX_ATTEMPTS - 1)
    ]


def triage_job_timeout() -> int:
    """Two backend calls and the database work: RQ stops a triage job that runs longer."""
    return int(settings.TRIAGE_TIMEOUT_SECONDS * 2) + 30


def triage_enqueue(job: TriageJob) -> None:
    """Mark the job queued and enqueue it after commit (django-rq on_db_commit)."""
    job.rq_job_id = f"triage-{job.complaint_id}-{uuid.uuid4().hex[:12]}"
    job.state = TriageJob.State.QUEUED
    job.updated_at = timezone.now()
    if job.pk is None:
        job.save()  # a new complaint's job: one INSERT
    else:
        job.save(update_fields=["rq_job_id", "state", "updated_at"])
    retries = settings.TRIAGE_MAX_ATTEMPTS - 1
    get_queue(settings.TRIAGE_QUEUE).enqueue(
        "apps.complaints.jobs.triage_complaint",
        job.pk,
        job_id=job.rq_job_id,
        retry=Retry(max=retries, interval=triage_retry_intervals()) if retries else None,
        job_timeout=triage_job_timeout(),
    )


def triage_backend() -> triage.TriageBackend:
    """The backend chosen by TRIAGE_BACKEND; the rules backend gets the active rules."""
    if settings.TRIAGE_BACKEND == "openai":
        return triage.OpenAIBackend(
            api_base=settings.TRIAGE_API_BASE,
            api_key=settings.TRIAGE_API_KEY,
            model=settings.TRIAGE_MODEL,
            timeout=settings.TRIAGE_TIMEOUT_SECONDS,
        )
    return triage.RuleBackend(rules=triage_rules_active())


def _triage_claim(triage_job_id: int) -> TriageJob | None:
    with transaction.atomic(durable=True):
        job = (
            # The complaint is locked too: its status moves below (complaint_transition).
            TriageJob.objects.select_for_update(of=("self", "complaint"))
            .select_related("complaint")
            .filter(pk=triage_job_id)
            .first()
        )
        if job is None or not job.is_pending:
            return None  # already finished (a duplicate delivery): nothing to do
        job.state = TriageJob.State.RUNNING
        job.attempts += 1
        job.updated_at = timezone.now()
        job.save(update_fields=["state", "attempts", "updated_at"])
        if job.complaint.status == Complaint.Status.RECEIVED:
            complaint_transition(complaint=job.complaint, to=Complaint.Status.TRIAGING, by=None)
        return job


def triage_run(*, triage_job_id: int) -> TriageJob | None:
    """Run one triage attempt: claim the job, call the backend outside any transaction, then
    record the result, manual triage (with the reason), a retry or the final failure."""
    job = _triage_claim(triage_job_id)
    if job is None:
        return None
    complaint = job.complaint
    backend = triage_backend()
    choices = triage_choices()
    text = triage.TriageInput(
        description=complaint.description[: settings.TRIAGE_MAX_INPUT_CHARS],
        incident_place=complaint.incident_place,
        incident_date=complaint.incident_date.isoformat() if complaint.incident_date else "",
    )
    try:
        answer = backend.classify(text=text, choices=choices)
        result = triage.answer_validate(
            answer, choices=choices, min_confidence=settings.TRIAGE_MIN_CONFIDENCE
        )
    except triage.TriageTransientError as error:
        last = job.attempts >= settings.TRIAGE_MAX_ATTEMPTS
        _triage_finish(job, backend, failed=True, reason=str(error), final=last)
        if not last:
            raise TriageRetry(str(error)) from None
    except triage.TriagePermanentError as error:
        _triage_finish(job, backend, failed=True, reason=str(error), final=True)
    except triage.TriageRejected as error:
        _triage_finish(job, backend, failed=False, reason=str(error), final=True)
    else:
        _triage_record(job, backend, result)
    return job


def _triage_stamp(complaint: Complaint, backend) -> list[str]:
    complaint.triage_backend = backend.name
    complaint.triage_model = backend.model
    complaint.triage_prompt_version = backend.prompt_version
    return ["triage_backend", "triage_model", "triage_prompt_version"]


def _triage_finish(job: TriageJob, backend, *, failed: bool, reason: str, final: bool) -> None:
    """Failure (final or retrying) or manual triage: no classification is invented."""
    with transaction.atomic(durable=True):
        job.state = (
            (TriageJob.State.FAILED if final else TriageJob.State.RETRYING)
            if failed
            else TriageJob.State.MANUAL
        )
        job.reason = reason
        job.updated_at = timezone.now()
        job.save(update_fields=["state", "reason", "updated_at"])
        if not final:
            return
        complaint = Complaint.objects.select_for_update().get(pk=job.complaint_id)
        complaint.save(update_fields=[*_triage_stamp(complaint, backend), "updated_at"])
        if complaint.status == Complaint.Status.TRIAGING:
            complaint_transition(complaint=complaint, to=Complaint.Status.RECEIVED, by=None)
        action = (
            ComplaintEvent.Action.TRIAGE_FAILED if failed else ComplaintEvent.Action.TRIAGE_MANUAL
        )
        event_record(complaint, action, reason=reason, attempts=job.attempts)
        dashboard_invalidate_on_commit()


def _triage_record(job: TriageJob, backend, result: triage.TriageResult) -> None:
    with transaction.atomic(durable=True):
        complaint = Complaint.objects.select_for_update().get(pk=job.complaint_id)
        before = complaint.category
        complaint.category = Category.objects.get(code=result.category)
        complaint.sector = Sector.objects.filter(code=result.sector).first()
        complaint.act = Act.objects.filter(code=result.act).first()
        complaint.triage_summary = result.summary
        complaint.triage_details = result.details
        complaint.triage_confidence = result.confidence
        complaint.due_at = due_at_reclassified(
            complaint.due_at, before=before, after=complaint.category
        )
        fields = [
            *_triage_stamp(complaint, backend),
            "category",
            "sector",
            "act",
            "triage_summary",
            "triage_details",
            "triage_confidence",
            "due_at",
            "updated_at",
        ]
        complaint.save(update_fields=fields)
        if complaint.status in (Complaint.Status.RECEIVED, Complaint.Status.TRIAGING):
            complaint_transition(complaint=complaint, to=Complaint.Status.TRIAGED, by=None)
        job.state = TriageJob.State.DONE
        job.reason = ""
        job.updated_at = timezone.now()
        job.save(update_fields=["state", "reason", "updated_at"])
        event_record(
            complaint,
            ComplaintEvent.Action.TRIAGED,
            category=result.category,
            sector=result.sector,
            act=result.act,
            confidence=result.confidence,
            backend=backend.name,
        )
        dashboard_invalidate_on_commit()


def triage_requeue(*, complaint_ids, by=None, stale: bool = False) -> list[str]:
    """Requeue triage for these complaints (admin action, sweeper). The admin requeues
    finished jobs and skips pending ones; the sweeper (`stale`) requeues pending jobs it
    found stale and skips any that finished since. Returns the references requeued."""
    requeued = []
    with transaction.atomic(durable=True):
        jobs = (
            TriageJob.objects.select_for_update(of=("self",))
            .select_related("complaint")
            .filter(complaint_id__in=list(complaint_ids))
            .order_by("pk")
        )
        for job in jobs:
            if job.is_pending != stale:
                continue
            job.attempts = 0
            job.reason = ""
            job.save(update_fields=["attempts", "reason"])
            triage_enqueue(job)
            event_record(job.complaint, ComplaintEvent.Action.TRIAGE_REQUEUED, by=by)
            requeued.append(job.complaint.reference)
    return requeued


def _rq_job_waiting(rq_job_id: str, redis) -> bool:
    """The RQ job still exists and waits to run (queued, or scheduled for a retry)."""
    try:
        return Job.fetch(rq_job_id, connection=redis).get_status() in RQ_WAITING
    except NoSuchJobError:
        return False


def triage_requeue_stale(
    *, older_than: timedelta | None = None, running_older_than: timedelta | None = None
) -> list[str]:
    """The recovery sweep's part for triage (and `requeue_triage`): requeue pending jobs that
    nothing will run any more: unchanged for `older_than` (TRIAGE_STALE_SECONDS) while
    queued or retrying, or for `running_older_than` (by default the job timeout plus that)
    while running (a worker died mid-job), and no longer waiting in Redis (lost with it, or
    failed for good)."""
    if older_than is None:
        older_than = timedelta(seconds=settings.TRIAGE_STALE_SECONDS)
    if running_older_than is None:
        running_older_than = older_than + timedelta(seconds=triage_job_timeout())
    redis = queue_redis(settings.TRIAGE_QUEUE)
    candidates = triage_jobs_stale(older_than=older_than, running_older_than=running_older_than)
    lost = [job.complaint_id for job in candidates if not _rq_job_waiting(job.rq_job_id, redis)]
    return triage_requeue(complaint_ids=lost, stale=True) if lost else []
