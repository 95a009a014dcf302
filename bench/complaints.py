"""Complaint data for the bench: the dashboard's 100,000 complaints (bulk, kept between runs),
public filings with a 1 MB attachment as a browser sends them, and a triage backlog."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.complaints.models import Category, Complaint, ReferenceCounter, Sector, TriageJob
from apps.complaints.services import complaint_file
from bench.arrivals import Arrival
from bench.sessions import csrf_secret

BULK_PLACE = "Bench district"  # marks the dashboard's bulk complaints
ATTACHMENT_BYTES = 1024 * 1024
DESCRIPTION = (
    "The clerk at the land records office asked for money before he would process the "
    "mutation of my late father's plot, and said the file would otherwise stay pending."
)
TRIAGE_STATES = (
    [TriageJob.State.DONE] * 95
    + [TriageJob.State.MANUAL] * 3
    + [
        TriageJob.State.FAILED,
        TriageJob.State.QUEUED,
    ]
)


def _references(year: int, count: int) -> list[str]:
    """`count` consecutive references of `year`, reserved on the app's own counter so that
    complaints filed later continue after them (call inside a transaction)."""
    counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
    first = counter.last_number + 1
    counter.last_number += count
    counter.save(update_fields=["last_number"])
    return [f"CP-{year}-{number:06d}" for number in range(first, first + count)]


def ensure_bulk_complaints(count: int) -> int:
    """Complaints spread over the last year, across statuses, categories and sectors, each
    with its triage record, until `count` exist; returns how many there are."""
    existing = Complaint.objects.filter(incident_place=BULK_PLACE).count()
    missing = count - existing
    if missing <= 0:
        return existing
    rng = random.Random(existing)
    now = timezone.now()
    received = sorted(now - timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(missing))
    categories = list(Category.objects.all())
    sectors = list(Sector.objects.all())
    statuses = list(Complaint.Status.values)
    with transaction.atomic():
        references = []
        for year in sorted({r.year for r in received}):
            references += _references(year, sum(1 for r in received if r.year == year))
        complaints = [
            Complaint(
                reference=reference,
                receipt_hash="bench",
                received_at=at,
                due_at=at + timedelta(days=30),
                description=DESCRIPTION,
                incident_place=BULK_PLACE,
                anonymous=True,
                status=rng.choice(statuses),
                category=rng.choice(categories),
                sector=rng.choice(sectors),
                triage_backend="rules",
            )
            for reference, at in zip(references, received, strict=True)
        ]
        for complaint in complaints:
            if complaint.status == Complaint.Status.CLOSED:
                complaint.outcome = Complaint.Outcome.REFERRED
                complaint.closed_at = complaint.received_at + timedelta(days=10)
        Complaint.objects.bulk_create(complaints, batch_size=5000)
        TriageJob.objects.bulk_create(
            (
                TriageJob(complaint=c, state=rng.choice(TRIAGE_STATES), updated_at=c.received_at)
                for c in complaints
            ),
            batch_size=5000,
        )
    return count


def attachment_body(seed: int) -> bytes:
    """A 1 MB PDF as far as content sniffing is concerned (the magic bytes), distinct per seed."""
    head = b"%PDF-1.7\n%bench " + str(seed).encode() + b"\n"
    filler = hashlib.sha256(str(seed).encode()).digest() * (ATTACHMENT_BYTES // 32 + 1)
    return (head + filler)[: ATTACHMENT_BYTES - 6] + b"%%EOF\n"


def filing_arrival(path: str, number: int) -> Arrival:
    """An anonymous public filing with one 1 MB attachment, as a multipart form post."""
    boundary = f"bench{uuid.uuid4().hex}"
    csrf = csrf_secret()
    fields = {
        "description": f"{DESCRIPTION} (bench filing {number})",
        "incident_place": "Bench burst",
        "anonymous": "on",
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="evidence-{number}.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + attachment_body(number)
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return Arrival(
        id=f"file-{number:06d}",
        path=path,
        body=b"".join(parts),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": f"csrftoken={csrf}",
            "X-CSRFToken": csrf,
        },
    )


def triage_backlog(count: int) -> None:
    """`count` more complaints waiting for triage, filed through the real service (the
    triage jobs are enqueued when each filing commits)."""
    for number in range(count):
        complaint_file(description=f"{DESCRIPTION} (triage backlog {number})", anonymous=True)


def _live_triage():
    """Triage records of filed complaints (the bulk ones never had an RQ job)."""
    return TriageJob.objects.exclude(complaint__incident_place=BULK_PLACE)


def triage_pending() -> int:
    return _live_triage().filter(state__in=TriageJob.PENDING_STATES).count()


def triage_finished() -> int:
    return _live_triage().exclude(state__in=TriageJob.PENDING_STATES).count()
