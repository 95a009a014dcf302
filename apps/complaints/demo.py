"""Demo data for complaints: the officer joins the Officers group, and a few hundred
complaints spread over the last 90 days and every status feed the dashboard.

Idempotent: demo complaints are recognised by the first one's contact address (its blind
index: the addresses are sealed like every complainant's).
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.complaints.models import (
    Act,
    Category,
    Complaint,
    ComplaintEvent,
    Sector,
    TriageJob,
)
from apps.complaints.receipts import receipt_hash, receipt_new
from apps.complaints.reference import groups_sync, reference_data_load
from apps.complaints.services import (
    dashboard_invalidate,
    due_at_for,
    reference_block,
    reference_format,
)
from apps.complaints.vault import Contact, contact_columns, email_index_candidates

DEMO_COMPLAINTS = 300
DEMO_DOMAIN = "demo.crowdproof.example"
DEMO_FIRST_EMAIL = f"citizen1@{DEMO_DOMAIN}"
# (description, category, sector, act)
DEMO_STORIES = [
    (
        "The clerk at the tehsil office asked for Rs 5,000 to update the land record. He said "
        "the mutation would take months otherwise.",
        "bribery",
        "land-revenue",
        "pca-7",
    ),
    (
        "A constable threatened to file a false case against my brother unless we paid him. "
        "He came to our shop twice.",
        "extortion",
        "police",
        "bns-308",
    ),
    (
        "The road tender was awarded to the engineer's relative although his bid was the "
        "highest. Work has not started.",
        "procurement-fraud",
        "public-works",
        "gfr-144",
    ),
    (
        "The headmaster demanded money for admission of my daughter under the RTE quota.",
        "bribery",
        "education",
        "pca-7",
    ),
    (
        "The fair price shop owner sells our ration on the open market and tells us stock has "
        "not arrived.",
        "welfare-fraud",
        "food-supply",
        None,
    ),
    (
        "The RTO agent said the driving licence test would be passed only with Rs 3,000 extra "
        "paid to the inspector.",
        "bribery",
        "transport",
        "pca-7",
    ),
    (
        "Funds for the village drain were siphoned off; the contractor used substandard "
        "material and the bills are inflated.",
        "embezzlement",
        "public-works",
        "bns-316",
    ),
    (
        "The ward officer owns two luxury flats and a car far beyond his income.",
        "disproportionate-assets",
        "municipal",
        "pca-13-1b",
    ),
    (
        "The hospital doctor sends patients to his own clinic and charges for free medicines.",
        "conflict-of-interest",
        "health",
        None,
    ),
    (
        "The lineman asked for cash to restore our power connection after the meter was replaced.",
        "bribery",
        "electricity",
        "pca-7",
    ),
    (
        "The tax officer threatened a heavy assessment order unless a 'settlement' was paid.",
        "extortion",
        "taxation",
        "bns-308",
    ),
    (
        "The municipal commissioner appointed his nephew as contractor for water connections.",
        "nepotism",
        "municipal",
        None,
    ),
]
PLACES = ["Mumbai", "Pune", "Nagpur", "Nashik", "Aurangabad", "Thane", "Kolhapur"]
# (weight, status, triage state)
MIX = [
    (8, Complaint.Status.RECEIVED, TriageJob.State.MANUAL),
    (3, Complaint.Status.RECEIVED, TriageJob.State.FAILED),
    (20, Complaint.Status.TRIAGED, TriageJob.State.DONE),
    (20, Complaint.Status.ASSIGNED, TriageJob.State.DONE),
    (20, Complaint.Status.INVESTIGATING, TriageJob.State.DONE),
    (9, Complaint.Status.AWAITING_INFO, TriageJob.State.DONE),
    (20, Complaint.Status.CLOSED, TriageJob.State.DONE),
]


@transaction.atomic
def seed(*, stdout=None) -> None:
    reference_data_load()
    groups_sync()
    officer = User.objects.filter(username="officer").first()
    if officer:
        officer.groups.add(*_groups("Officers"))
    demo = email_index_candidates(DEMO_FIRST_EMAIL)
    if Complaint.objects.filter(contact_email_index__in=demo).exists():
        return
    rng = random.Random(2026)
    categories = {c.code: c for c in Category.objects.all()}
    sectors = {s.code: s for s in Sector.objects.all()}
    acts = {a.code: a for a in Act.objects.all()}
    now = timezone.now()
    received = sorted(
        now - timedelta(minutes=rng.randint(5, 90 * 24 * 60)) for _ in range(DEMO_COMPLAINTS)
    )
    by_year: dict[int, list] = {}
    for when in received:
        by_year.setdefault(timezone.localdate(when).year, []).append(when)
    hashed = receipt_hash(receipt_new())  # nobody can follow demo complaints
    complaints = []
    states = []
    for year, moments in by_year.items():
        first = reference_block(year=year, count=len(moments))
        for offset, when in enumerate(moments):
            story, category, sector, act = rng.choice(DEMO_STORIES)
            _, status, state = rng.choices(MIX, weights=[m[0] for m in MIX])[0]
            triaged = state == TriageJob.State.DONE
            category_obj = categories[category] if triaged else None
            complaints.append(
                Complaint(
                    reference=reference_format(year, first + offset),
                    receipt_hash=hashed,
                    received_at=when,
                    due_at=due_at_for(when, category_obj),
                    description=story,
                    incident_date=(when - timedelta(days=rng.randint(0, 30))).date(),
                    incident_place=rng.choice(PLACES),
                    **contact_columns(
                        Contact(
                            name=f"Citizen {len(complaints) + 1}",
                            email=f"citizen{len(complaints) + 1}@{DEMO_DOMAIN}",
                        )
                    ),
                    status=status,
                    outcome=rng.choice(Complaint.Outcome.values) if status == "closed" else "",
                    closed_at=when + timedelta(days=rng.randint(1, 20))
                    if status == "closed"
                    else None,
                    priority=rng.choice(Complaint.Priority.values),
                    assigned_to=officer if status not in ("received", "triaged") else None,
                    category=category_obj,
                    sector=sectors[sector] if triaged else None,
                    act=acts.get(act) if triaged else None,
                    triage_summary=story[:120] if triaged else "",
                    triage_confidence=round(rng.uniform(0.6, 0.98), 2) if triaged else None,
                    triage_backend="rules",
                    triage_model="keyword-rules",
                    triage_prompt_version="triage-v1",
                )
            )
            states.append(state)
    Complaint.objects.bulk_create(complaints, batch_size=1000)
    TriageJob.objects.bulk_create(
        TriageJob(
            complaint=c,
            state=s,
            attempts=1,
            updated_at=c.received_at,
            reason="" if s == TriageJob.State.DONE else "demo: needs an officer",
        )
        for c, s in zip(complaints, states, strict=True)
    )
    ComplaintEvent.objects.bulk_create(
        ComplaintEvent(complaint=c, action=ComplaintEvent.Action.FILED, at=c.received_at)
        for c in complaints
    )
    transaction.on_commit(dashboard_invalidate)
    if stdout:
        stdout.write(f"complaints: {len(complaints)} demo complaints")


def _groups(name: str):
    from django.contrib.auth.models import Group

    return Group.objects.filter(name=name)
