"""Writes for complaints: filing, triage, officers' workflow and the audit trail.

Views, admin actions, management commands and jobs all call these functions.
"""

import hashlib
import random
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

import django_rq
import filetype
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from apps.complaints import triage
from apps.complaints.models import (
    Act,
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    ReferenceCounter,
    Sector,
    TriageJob,
    TriageOverride,
)
from apps.complaints.receipts import receipt_hash, receipt_new
from apps.complaints.selectors import (
    DASHBOARD_VERSION_KEY,
    DASHBOARD_VERSION_TTL,
    complaints_overdue,
    triage_choices,
    triage_jobs_stale,
)
from apps.sync.services import outbox_event_record

SNIFF_BYTES = 8192
ERR_OUTCOME_REQUIRED = "Choose an outcome to close a complaint."
ERR_OUTCOME_ONLY_WHEN_CLOSED = "An outcome can only be set when the complaint is closed."
ERR_REFERENCE_OUTSIDE_TRANSACTION = "reference_block must run inside the filing transaction."
STATUSES_BEFORE_ASSIGNMENT = (
    Complaint.Status.RECEIVED,
    Complaint.Status.TRIAGING,
    Complaint.Status.TRIAGED,
)


class TriageRetry(Exception):
    """Raised by triage_run after recording a transient failure, so that RQ retries the job."""


# --- Attachments -------------------------------------------------------------------------


def attachment_sniff(*, upload) -> str | None:
    """The MIME type from the file's first bytes (not its name or the browser's header)."""
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = filetype.guess(head) if head else None
    return kind.mime if kind else None


def attachment_filename_clean(name: str) -> str:
    """A display name that is safe in a header and on any file system; never a path."""
    name = unicodedata.normalize("NFKC", PurePath(name.replace("\\", "/")).name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    stem, dot, ext = name.rpartition(".")
    if dot:
        name = f"{stem[:100]}.{ext[:20]}"
    try:
        return get_valid_filename(name)[:150]
    except SuspiciousFileOperation:
        return "attachment"


@dataclass
class _StoredFile:
    name: str
    original_name: str
    content_type: str
    size: int
    sha256: str


def _attachment_store(upload) -> _StoredFile:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    today = timezone.now()
    name = default_storage.save(f"complaints/{today:%Y/%m}/{uuid.uuid4().hex}", upload)
    return _StoredFile(
        name=name,
        original_name=attachment_filename_clean(upload.name or ""),
        content_type=attachment_sniff(upload=upload) or "application/octet-stream",
        size=upload.size,
        sha256=digest.hexdigest(),
    )


def attachment_orphans_delete(*, older_than: timedelta) -> list[str]:
    """Delete stored files that no Attachment row points to (a process killed between writing
    a file and committing its complaint), once older than `older_than`. Returns their names."""
    cutoff = timezone.now() - older_than
    known = set(Attachment.objects.values_list("file", flat=True))
    deleted = []
    pending = ["complaints"]
    while pending:
        folder = pending.pop()
        if not default_storage.exists(folder):
            continue
        subfolders, files = default_storage.listdir(folder)
        pending += [f"{folder}/{name}" for name in subfolders]
        for name in (f"{folder}/{name}" for name in files):
            if name not in known and default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                deleted.append(name)
    return deleted


# --- Filing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    receipt: str  # shown once, never stored


def reference_format(year: int, number: int) -> str:
    return f"CP-{year}-{number:06d}"


def reference_block(*, year: int, count: int = 1) -> int:
    """Take `count` consecutive numbers of the year in the caller's transaction; returns the
    first. The counter row stays locked until commit, so concurrent filings get consecutive
    numbers and a rollback gives its numbers back (a sequence would leave a gap)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(ERR_REFERENCE_OUTSIDE_TRANSACTION)
    table = ReferenceCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number) VALUES (%s, %s) "
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + %s "
            "RETURNING last_number",
            [year, count, count],
        )
        (last,) = cursor.fetchone()
    return last - count + 1


def due_at_for(received_at, category: Category | None):
    """SLA: COMPLAINTS_SLA_DAYS for the category's code, else the category's own, else the
    default (a complaint not classified yet)."""
    if category is None:
        days = settings.COMPLAINTS_DEFAULT_SLA_DAYS
    else:
        days = settings.COMPLAINTS_SLA_DAYS.get(category.code, category.sla_days)
    return received_at + timedelta(days=days)


def complaint_file(
    *,
    description: str,
    incident_date=None,
    incident_place: str = "",
    anonymous: bool = False,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    uploads=(),
) -> Filed:
    """Store the files, then in one transaction: the reference, the complaint, its
    attachments, the TriageJob and the audit event; the triage job is enqueued on commit.
    If anything fails, the files already written are deleted: no orphans."""
    stored: list[_StoredFile] = []
    try:
        for upload in uploads:
            stored.append(_attachment_store(upload))
        with transaction.atomic(durable=True):
            now = timezone.now()
            year = timezone.localdate(now).year
            receipt = receipt_new()
            complaint = Complaint.objects.create(
                reference=reference_format(year, reference_block(year=year)),
                receipt_hash=receipt_hash(receipt),
                received_at=now,
                due_at=due_at_for(now, None),
                description=description,
                incident_date=incident_date,
                incident_place=incident_place,
                anonymous=anonymous,
                contact_name="" if anonymous else contact_name,
                contact_email="" if anonymous else contact_email,
                contact_phone="" if anonymous else contact_phone,
            )
            Attachment.objects.bulk_create(
                Attachment(
                    complaint=complaint,
                    file=f.name,
                    original_name=f.original_name,
                    content_type=f.content_type,
                    size=f.size,
                    sha256=f.sha256,
                    uploaded_at=now,
                )
                for f in stored
            )
            _triage_enqueue(TriageJob(complaint=complaint))
            _event(complaint, ComplaintEvent.Action.FILED, attachments=len(stored))
            _dashboard_invalidate_on_commit()
    except BaseException:
        for f in stored:
            default_storage.delete(f.name)
        raise
    return Filed(complaint=complaint, receipt=receipt)


# --- Triage ------------------------------------------------------------------------------


def triage_retry_intervals() -> list[int]:
    """Capped exponential backoff with full jitter, one interval per retry."""
    base, cap = settings.TRIAGE_RETRY_BASE_SECONDS, settings.TRIAGE_RETRY_MAX_SECONDS
    return [
        round(random.uniform(0, min(cap, base * 2**attempt)))
        for attempt in range(settings.TRIAGE_MAX_ATTEMPTS - 1)
    ]


def triage_job_timeout() -> int:
    """Two backend calls and the database work: RQ stops a triage job that runs longer."""
    return int(settings.TRIAGE_TIMEOUT_SECONDS * 2) + 30


def _triage_enqueue(job: TriageJob) -> None:
    """Mark the job queued and enqueue it after commit (django-rq on_db_commit)."""
    job.rq_job_id = f"triage-{job.complaint_id}-{uuid.uuid4().hex[:12]}"
    job.state = TriageJob.State.QUEUED
    job.updated_at = timezone.now()
    if job.pk is None:
        job.save()  # a new complaint's job: one INSERT
    else:
        job.save(update_fields=["rq_job_id", "state", "updated_at"])
    retries = settings.TRIAGE_MAX_ATTEMPTS - 1
    django_rq.get_queue(settings.TRIAGE_QUEUE).enqueue(
        "apps.complaints.jobs.triage_complaint",
        job.pk,
        job_id=job.rq_job_id,
        retry=Retry(max=retries, interval=triage_retry_intervals()) if retries else None,
        job_timeout=triage_job_timeout(),
    )


def _triage_claim(triage_job_id: int) -> TriageJob | None:
    with transaction.atomic(durable=True):
        job = (
            TriageJob.objects.select_for_update(of=("self",))
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
        complaint = job.complaint
        if complaint.status == Complaint.Status.RECEIVED:
            complaint.status = Complaint.Status.TRIAGING
            complaint.save(update_fields=["status", "updated_at"])
        return job


def triage_run(*, triage_job_id: int) -> TriageJob | None:
    """Run one triage attempt: claim the job, call the backend outside any transaction, then
    record the result, manual triage (with the reason), a retry or the final failure."""
    job = _triage_claim(triage_job_id)
    if job is None:
        return None
    complaint = job.complaint
    backend = triage.backend_get()
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
        fields = _triage_stamp(complaint, backend)
        if complaint.status == Complaint.Status.TRIAGING:
            complaint.status = Complaint.Status.RECEIVED
            fields.append("status")
        complaint.save(update_fields=[*fields, "updated_at"])
        action = (
            ComplaintEvent.Action.TRIAGE_FAILED if failed else ComplaintEvent.Action.TRIAGE_MANUAL
        )
        _event(complaint, action, reason=reason, attempts=job.attempts)
        _dashboard_invalidate_on_commit()


def _triage_record(job: TriageJob, backend, result: triage.TriageResult) -> None:
    with transaction.atomic(durable=True):
        complaint = Complaint.objects.select_for_update().get(pk=job.complaint_id)
        complaint.category = Category.objects.get(code=result.category)
        complaint.sector = Sector.objects.filter(code=result.sector).first()
        complaint.act = Act.objects.filter(code=result.act).first()
        complaint.triage_summary = result.summary
        complaint.triage_details = result.details
        complaint.triage_confidence = result.confidence
        complaint.due_at = due_at_for(complaint.received_at, complaint.category)
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
        if complaint.status in (Complaint.Status.RECEIVED, Complaint.Status.TRIAGING):
            complaint.status = Complaint.Status.TRIAGED
            fields.append("status")
        complaint.save(update_fields=fields)
        job.state = TriageJob.State.DONE
        job.reason = ""
        job.updated_at = timezone.now()
        job.save(update_fields=["state", "reason", "updated_at"])
        _event(
            complaint,
            ComplaintEvent.Action.TRIAGED,
            category=result.category,
            sector=result.sector,
            act=result.act,
            confidence=result.confidence,
            backend=backend.name,
        )
        _dashboard_invalidate_on_commit()


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
            _triage_enqueue(job)
            _event(job.complaint, ComplaintEvent.Action.TRIAGE_REQUEUED, by=by)
            requeued.append(job.complaint.reference)
    return requeued


RQ_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


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
    redis = django_rq.get_queue(settings.TRIAGE_QUEUE).connection
    candidates = triage_jobs_stale(older_than=older_than, running_older_than=running_older_than)
    lost = [job.complaint_id for job in candidates if not _rq_job_waiting(job.rq_job_id, redis)]
    return triage_requeue(complaint_ids=lost, stale=True) if lost else []


# --- Officers' workflow ------------------------------------------------------------------


def _event(complaint: Complaint, action: str, *, by=None, **detail) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint, action=action, actor=by, detail=detail, at=timezone.now()
    )


def _assign(complaint: Complaint, officer, by) -> list[str]:
    if complaint.assigned_to_id == (officer.pk if officer else None):
        return []
    complaint.assigned_to = officer
    fields = ["assigned_to"]
    if officer and complaint.status in STATUSES_BEFORE_ASSIGNMENT:
        complaint.status = Complaint.Status.ASSIGNED
        fields.append("status")
    _event(
        complaint,
        ComplaintEvent.Action.ASSIGNED,
        by=by,
        officer=officer.username if officer else None,
    )
    return fields


def complaint_status_check(*, status: str, outcome: str) -> None:
    """A closed complaint has an outcome, an open one has none (ValueError otherwise)."""
    if status == Complaint.Status.CLOSED and not outcome:
        raise ValueError(ERR_OUTCOME_REQUIRED)
    if outcome and status != Complaint.Status.CLOSED:
        raise ValueError(ERR_OUTCOME_ONLY_WHEN_CLOSED)


def _set_status(complaint: Complaint, status: str, outcome: str, by) -> list[str]:
    complaint_status_check(status=status, outcome=outcome)
    if complaint.status == status and complaint.outcome == outcome:
        return []
    before = complaint.status
    complaint.status, complaint.outcome = status, outcome
    complaint.closed_at = timezone.now() if status == Complaint.Status.CLOSED else None
    _event(
        complaint, ComplaintEvent.Action.STATUS, by=by, before=before, after=status, outcome=outcome
    )
    if status == Complaint.Status.CLOSED:
        _complaint_closed_publish(complaint)
    return ["status", "outcome", "closed_at"]


def _complaint_closed_publish(complaint: Complaint) -> None:
    key = f"complaint:{complaint.reference}"
    outbox_event_record(
        event_type="complaint.closed",
        aggregate_type="complaint",
        aggregate_key=key,
        payload={
            "external_key": key,
            "reference": complaint.reference,
            "status": complaint.status,
            "outcome": complaint.outcome,
            "category": complaint.category.code if complaint.category else "",
            "sector": complaint.sector.code if complaint.sector else "",
            "act": complaint.act.code if complaint.act else "",
            "received_at": complaint.received_at.isoformat(),
            "closed_at": complaint.closed_at.isoformat(),
        },
    )


def _override(complaint: Complaint, field: str, value, by) -> list[str]:
    current = getattr(complaint, field)
    if current == value:
        return []
    # The value triage chose: from the first override of this field, else the current one.
    first = complaint.overrides.filter(field=field).order_by("at", "pk").first()
    original = first.original if first else (current.code if current else "")
    setattr(complaint, field, value)
    job = getattr(complaint, "triage_job", None)
    if job is not None and job.state == TriageJob.State.DONE:  # triage proposed a value
        TriageOverride.objects.create(
            complaint=complaint,
            field=field,
            original=original,
            new=value.code if value else "",
            backend=complaint.triage_backend,
            by=by,
            at=timezone.now(),
        )
    _event(
        complaint,
        ComplaintEvent.Action.OVERRIDE,
        by=by,
        field=field,
        before=current.code if current else None,
        after=value.code if value else None,
    )
    fields = [field]
    if field == "category":
        complaint.due_at = due_at_for(complaint.received_at, value)
        fields.append("due_at")
    return fields


def _message(complaint: Complaint, kind: str, body: str, by) -> None:
    ComplaintMessage.objects.create(
        complaint=complaint, kind=kind, body=body, author=by, created_at=timezone.now()
    )
    action = (
        ComplaintEvent.Action.REPLY
        if kind == ComplaintMessage.Kind.PUBLIC_REPLY
        else ComplaintEvent.Action.NOTE
    )
    _event(complaint, action, by=by)


def complaint_update(
    *,
    complaint: Complaint,
    by,
    changes: dict,
    note: str = "",
    reply: str = "",
) -> Complaint:
    """An officer's edit from the admin change form: assignment, status and outcome,
    priority, classification overrides, an internal note and a public reply. Every change
    is audited. Not durable: the admin's change form already holds a transaction."""
    with transaction.atomic():
        current = (
            Complaint.objects.select_for_update(of=("self",))
            .select_related("triage_job", "category", "sector", "act")
            .get(pk=complaint.pk)
        )
        fields: list[str] = []
        if "assigned_to" in changes:
            fields += _assign(current, changes["assigned_to"], by)
        for field in ("category", "sector", "act"):
            if field in changes:
                fields += _override(current, field, changes[field], by)
        if "priority" in changes and current.priority != changes["priority"]:
            _event(
                current,
                ComplaintEvent.Action.PRIORITY,
                by=by,
                before=current.priority,
                after=changes["priority"],
            )
            current.priority = changes["priority"]
            fields.append("priority")
        if "status" in changes or "outcome" in changes:
            fields += _set_status(
                current,
                changes.get("status", current.status),
                changes.get("outcome", current.outcome),
                by,
            )
        if note:
            _message(current, ComplaintMessage.Kind.INTERNAL_NOTE, note, by)
        if reply:
            _message(current, ComplaintMessage.Kind.PUBLIC_REPLY, reply, by)
        if fields:
            current.save(update_fields=sorted({*fields, "updated_at"}))
            _dashboard_invalidate_on_commit()
    return current


def complaint_assign(*, complaint_ids, officer, by) -> int:
    """Assign complaints (bulk action "assign to me"); returns how many changed."""
    with transaction.atomic(durable=True):
        changed = 0
        for complaint in Complaint.objects.select_for_update().filter(pk__in=list(complaint_ids)):
            fields = _assign(complaint, officer, by)
            if fields:
                complaint.save(update_fields=[*fields, "updated_at"])
                changed += 1
        _dashboard_invalidate_on_commit()
    return changed


def complaint_set_status(*, complaint_ids, status: str, outcome: str = "", by) -> int:
    """Set the status of complaints (bulk action); closing needs an outcome and publishes a
    `complaint.closed` outbox event in the same transaction."""
    with transaction.atomic(durable=True):
        changed = 0
        complaints = Complaint.objects.select_for_update(of=("self",)).select_related(
            "category", "sector", "act"
        )
        for complaint in complaints.filter(pk__in=list(complaint_ids)):
            fields = _set_status(complaint, status, outcome, by)
            if fields:
                complaint.save(update_fields=[*fields, "updated_at"])
                changed += 1
        _dashboard_invalidate_on_commit()
    return changed


def complaint_view_record(*, complaint: Complaint, by) -> None:
    with transaction.atomic(durable=True):
        _event(complaint, ComplaintEvent.Action.VIEWED, by=by)


def attachment_download_record(*, attachment: Attachment, by) -> None:
    with transaction.atomic(durable=True):
        _event(
            attachment.complaint,
            ComplaintEvent.Action.DOWNLOADED,
            by=by,
            attachment=attachment.pk,
            name=attachment.original_name,
        )


def complaint_export_record(*, complaint_ids, by) -> None:
    with transaction.atomic(durable=True):
        now = timezone.now()
        ComplaintEvent.objects.bulk_create(
            ComplaintEvent(complaint_id=pk, action=ComplaintEvent.Action.EXPORTED, actor=by, at=now)
            for pk in complaint_ids
        )


def complaint_escalate_overdue(*, now=None) -> list[Complaint]:
    """Mark open complaints past their due date that were not escalated yet: priority goes up
    to at least High and an audit event is written. Returns the newly escalated ones."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        escalated = list(
            complaints_overdue(now=now)
            .filter(escalated_at__isnull=True)
            .select_for_update(skip_locked=True)
            .order_by("due_at")
        )
        for complaint in escalated:
            complaint.escalated_at = now
            complaint.priority = max(complaint.priority, Complaint.Priority.HIGH)
            complaint.save(update_fields=["escalated_at", "priority", "updated_at"])
            _event(complaint, ComplaintEvent.Action.ESCALATED, due_at=complaint.due_at.isoformat())
        if escalated:
            _dashboard_invalidate_on_commit()
    return escalated


# --- Dashboard cache -----------------------------------------------------------------------


def dashboard_invalidate() -> None:
    """Bump the dashboard's cache generation: every cached figure is stale at once."""
    try:
        cache.incr(DASHBOARD_VERSION_KEY)
    except ValueError:  # the key is gone (eviction, restart): start a fresh generation
        cache.set(DASHBOARD_VERSION_KEY, time.time_ns(), DASHBOARD_VERSION_TTL)


def _dashboard_invalidate_on_commit() -> None:
    transaction.on_commit(dashboard_invalidate)
