"""Reads for complaints: the public status, triage inputs, the dashboard and exports."""

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Trim, TruncDate, TruncWeek, Upper
from django.utils import timezone
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.complaints.models import (
    Act,
    Attachment,
    Category,
    Complaint,
    ComplaintMessage,
    Sector,
    TriageJob,
    TriageOverride,
    TriageRule,
)
from apps.complaints.receipts import receipt_matches
from apps.complaints.triage import TriageChoices
from apps.core.generations import generation
from apps.core.replica import reads_may_lag

DASHBOARD_VERSION_KEY = "complaints:dashboard:version"
OFFICER_GROUPS = ("Officers", "Supervisors")
CHART_LABEL_CHARS = 20


def complaint_public_status(*, reference: str, receipt: str) -> Complaint | None:
    """The complaint if the receipt matches; None for a wrong receipt or unknown reference
    alike: the same query and the same comparison either way (no enumeration). Public
    replies and the complainant's follow-ups are read only after a match."""
    complaint = (
        Complaint.objects.select_related("triage_job", "category")
        # A merged duplicate names the reference its case carries on under, nothing more.
        .annotate(primary_reference=F("duplicate_of__reference"))
        .filter(reference=reference.strip().upper())
        .first()
    )
    stored = complaint.receipt_hash if complaint else None
    if not receipt_matches(stored_hash=stored, receipt=receipt):
        return None
    # The officers' public replies and the complainant's own follow-ups: one query.
    Kind = ComplaintMessage.Kind
    messages = list(complaint.messages.filter(kind__in=(Kind.PUBLIC_REPLY, Kind.FOLLOW_UP)))
    complaint.public_replies = [m for m in messages if m.kind == Kind.PUBLIC_REPLY]
    complaint.follow_ups = [m for m in messages if m.kind == Kind.FOLLOW_UP]
    return complaint


def complaint_status_fingerprint(complaint: Complaint) -> str:
    """Changes whenever the public status panel would: a poll that sends back the
    fingerprint it was given gets "nothing new" instead of the same panel again."""
    job = getattr(complaint, "triage_job", None)
    state = job.state if job else ""
    replies = len(complaint.public_replies)
    return f"{complaint.status}.{complaint.category_id}.{state}.{replies}"


# Similar complaints (the change page's duplicates panel). `%` is pg_trgm's similarity
# operator: UPPER(description) % UPPER(text) is exactly the expression of the trigram index
# complaint_description_trgm, whose GIN scan keeps the rows that may reach
# pg_trgm.similarity_threshold; similarity() is then computed for those rows only. Measured
# with EXPLAIN ANALYZE on 100,000 complaints sharing much of their wording (the test's
# corpus): at the default threshold 0.3 the index let 10,000 rows through to be rechecked,
# at 0.4 about 200, and the query took a third of the time. The window is a filter on the
# index's rows, not a range on received_at: given that range, the planner walked the date
# index and ran `%` on every complaint of the six months (17,000: four times slower).
# tests/complaints/test_duplicates.py asserts the plan uses the trigram index.
SIMILAR_THRESHOLD = 0.4  # a reworded report of the same facts scores about 0.45-0.55
SIMILAR_WINDOW_DAYS = 180  # filed this close to each other, before or after
SIMILAR_LIMIT = 5
# score = text similarity, lifted by nearness in time (incident dates when both have one,
# else filing dates) and by the same place; the text weighs most.
SIMILAR_WEIGHTS = {"text": 0.7, "date": 0.2, "place": 0.1}


def complaint_similar(*, complaint: Complaint, limit: int = SIMILAR_LIMIT) -> list[Complaint]:
    """The complaints most like `complaint`: filed within SIMILAR_WINDOW_DAYS of it, with a
    similar text, not purged, not itself and not already merged into it; best first, each
    with `similarity` (0-1, of the text) and `score`. One query (and the threshold's SET)."""
    if complaint.purged_at or not complaint.description.strip():
        return []
    text = complaint.description.upper()
    days_filed_apart = RawSQL(
        "ABS(EXTRACT(EPOCH FROM received_at - %s)) / 86400.0",
        (complaint.received_at,),
        output_field=FloatField(),
    )
    days_apart = Coalesce(  # the incidents' dates if both are known, else the filings'
        RawSQL("ABS(incident_date - %s::date)", (complaint.incident_date,), FloatField()),
        F("days_filed_apart"),
    )
    place = complaint.incident_place.strip().upper()
    w = SIMILAR_WEIGHTS
    similar = (
        Complaint.objects.annotate(
            text_upper=Upper("description"), days_filed_apart=days_filed_apart
        )
        .filter(
            text_upper__trigram_similar=text,
            days_filed_apart__lte=SIMILAR_WINDOW_DAYS,
            purged_at__isnull=True,
        )
        .exclude(pk=complaint.pk)
        .exclude(duplicate_of=complaint.pk)
        .annotate(place_upper=Trim(Upper("incident_place")))
        .annotate(
            similarity=TrigramSimilarity("text_upper", text),
            nearness=Greatest(Value(0.0), 1.0 - days_apart / SIMILAR_WINDOW_DAYS),
            same_place=Case(
                When(Q(place_upper=place) & ~Q(place_upper=""), then=1.0),
                default=0.0,
                output_field=FloatField(),
            ),
        )
        .annotate(
            score=w["text"] * F("similarity")
            + w["date"] * F("nearness")
            + w["place"] * F("same_place")
        )
        .only("pk", "reference", "received_at", "status", "outcome", "duplicate_of")
        .order_by("-score", "-received_at")[:limit]
    )
    # The threshold for this transaction only, never for the next user of a pooled connection.
    with transaction.atomic(), connection.cursor() as cursor:
        threshold = str(SIMILAR_THRESHOLD)
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [threshold])
        return list(similar)


def complaint_by_reference(reference: str) -> Complaint | None:
    return Complaint.objects.filter(reference=reference.strip().upper()).first()


def complaint_duplicates_panel(*, complaint: Complaint) -> dict:
    """The change page's duplicates panel in a fixed number of queries, however many
    complaints it lists: its primary (if it is a duplicate), its duplicates, similar ones."""
    fields = ("pk", "reference", "received_at", "status", "outcome")
    primary = None
    if complaint.duplicate_of_id is not None:
        primary = Complaint.objects.only(*fields).get(pk=complaint.duplicate_of_id)
    return {
        "primary": primary,
        # With its link: Django reads it to relate each one, a query per duplicate if deferred.
        "duplicates": list(
            complaint.duplicates.only(*fields, "duplicate_of").order_by("received_at", "pk")
        ),
        "similar": complaint_similar(complaint=complaint),
    }


def complaint_attachments(*, complaint: Complaint) -> list[Attachment]:
    """Its own attachments, then those of the complaints merged into it (one query), each
    with `from_reference`, the reference of the complaint it came with."""
    merged = Complaint.objects.filter(Q(pk=complaint.pk) | Q(duplicate_of=complaint.pk))
    return list(
        Attachment.objects.filter(complaint__in=merged.values("pk"))
        .annotate(
            from_reference=F("complaint__reference"),
            own=Case(When(complaint=complaint.pk, then=0), default=1),
        )
        .order_by("own", "pk")
    )


def triage_rules_active() -> list[tuple]:
    return list(
        TriageRule.objects.filter(is_active=True).values_list(
            "pattern", "category__code", "sector__code", "act__code", "weight"
        )
    )


def triage_choices() -> TriageChoices:
    return TriageChoices(
        categories=dict(Category.objects.values_list("code", "name")),
        sectors=dict(Sector.objects.values_list("code", "name")),
        acts={act.code: str(act) for act in Act.objects.all()},
    )


def triage_jobs_stale(
    *, older_than: timedelta, running_older_than: timedelta | None = None
) -> list[TriageJob]:
    """Jobs still pending whose last change is older than `older_than`, or than
    `running_older_than` for running ones (a job may run for its whole timeout)."""
    now = timezone.now()
    State = TriageJob.State
    return list(
        TriageJob.objects.filter(
            Q(state__in=(State.QUEUED, State.RETRYING), updated_at__lt=now - older_than)
            | Q(state=State.RUNNING, updated_at__lt=now - (running_older_than or older_than))
        ).order_by("updated_at")
    )


def officers():
    return User.objects.filter(groups__name__in=OFFICER_GROUPS).distinct().order_by("username")


def overdue_q(now=None) -> Q:
    """Open and past the due date (served by the partial index complaint_open_due)."""
    return Q(due_at__lt=now or timezone.now()) & ~Q(status=Complaint.Status.CLOSED)


def complaints_overdue(*, now=None):
    return Complaint.objects.filter(overdue_q(now))


EXPORT_HEADER = [
    "reference",
    "received_at",
    "status",
    "outcome",
    "priority",
    "category",
    "sector",
    "act",
    "assigned_to",
    "due_at",
    "closed_at",
    "incident_date",
    "incident_place",
    "triage_state",
    "triage_confidence",
    "description",
]


def complaint_export_rows(*, queryset):
    """The CSV rows of the selected complaints (one query, streamed)."""
    yield EXPORT_HEADER
    rows = queryset.select_related("category", "sector", "act", "assigned_to", "triage_job")
    for c in rows.order_by("received_at").iterator(chunk_size=2000):
        triage = getattr(c, "triage_job", None)
        yield [
            c.reference,
            c.received_at.isoformat(),
            c.status,
            c.outcome,
            c.priority,
            c.category.code if c.category else "",
            c.sector.code if c.sector else "",
            c.act.code if c.act else "",
            c.assigned_to.username if c.assigned_to else "",
            c.due_at.isoformat(),
            c.closed_at.isoformat() if c.closed_at else "",
            c.incident_date.isoformat() if c.incident_date else "",
            c.incident_place,
            triage.state if triage else "",
            c.triage_confidence or "",
            c.description,
        ]


def triage_accuracy() -> list[dict]:
    """Per field: complaints the AI classified, and how many an officer overrode."""
    triaged = Complaint.objects.exclude(triage_backend="").count()
    overridden = dict(
        TriageOverride.objects.values("field")
        .annotate(n=Count("complaint", distinct=True))
        .values_list("field", "n")
    )
    return [
        {
            "field": field.label,
            "triaged": triaged,
            "overridden": overridden.get(field.value, 0),
            "kept_percent": round(100 * (1 - overridden.get(field.value, 0) / triaged), 1)
            if triaged
            else None,
        }
        for field in TriageOverride.Field
    ]


# --- Dashboard ---------------------------------------------------------------------------


def dashboard_version() -> int:
    """The dashboard's cache generation; a write bumps it (services.dashboard_invalidate).
    A lost key restarts from the clock, never from an old number."""
    return generation(DASHBOARD_VERSION_KEY)


def _dashboard_key(filters: dict) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"complaints:dashboard:{dashboard_version()}:{digest}"


def dashboard_stats(*, filters: dict) -> dict:
    """Figures for the officers' dashboard, cached per filter set for a short TTL."""
    key = _dashboard_key(filters)
    stats = cache.get(key)
    if stats is None:
        # The key travels with the figures: the template caches their rendering under it.
        stats = {**_dashboard_compute(filters), "cache_key": key}
        cache.set(key, stats, settings.COMPLAINTS_DASHBOARD_CACHE_TTL)
    return stats


def _label(name: str | None) -> str:
    """Chart labels have room for about 20 characters."""
    name = name or gettext("(not classified)")
    return name if len(name) <= CHART_LABEL_CHARS else name[: CHART_LABEL_CHARS - 1] + "…"


def _every_period(rows, *, since, now, weekly: bool) -> list[tuple[str, int]]:
    """A bar for every day (or week) of the period, 0 where nothing was filed: a missing
    bar would read as a gap in the axis rather than a quiet day."""
    counts = {}
    for row in rows:
        start = row["day"]
        counts[start.date() if isinstance(start, datetime) else start] = row["n"]
    step = timedelta(days=7 if weekly else 1)
    period = timezone.localdate(since)
    if weekly:
        period -= timedelta(days=period.weekday())  # weeks start on Monday, as TruncWeek's
    bars = []
    while period <= timezone.localdate(now):
        bars.append((period.strftime("%d %b"), counts.get(period, 0)))
        period += step
    return bars


@reads_may_lag()  # a replica a few seconds behind is fine for these figures
def _dashboard_compute(filters: dict) -> dict:
    now = timezone.now()
    since = now - timedelta(days=filters["days"])
    complaints = Complaint.objects.filter(received_at__gte=since)
    for name in ("category", "sector", "status"):
        if filters.get(name):
            lookup = f"{name}__code" if name != "status" else "status"
            complaints = complaints.filter(**{lookup: filters[name]})
    # Up to a month a bar per day, beyond that a bar per week.
    trunc = TruncDate if filters["days"] <= 31 else TruncWeek
    per_day = (
        complaints.annotate(day=trunc("received_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    labels = dict(Complaint.Status.choices)
    by_status = complaints.values("status").annotate(n=Count("pk")).order_by("-n")
    by_category = complaints.values("category__name").annotate(n=Count("pk")).order_by("-n")
    by_sector = complaints.values("sector__name").annotate(n=Count("pk")).order_by("-n")
    totals = complaints.aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=overdue_q(now)),
        backlog=Count("pk", filter=Q(triage_job__state__in=TriageJob.PENDING_STATES)),
        failed=Count("pk", filter=Q(triage_job__state=TriageJob.State.FAILED)),
        manual=Count("pk", filter=Q(triage_job__state=TriageJob.State.MANUAL)),
        finished=Count("pk", filter=~Q(triage_job__state__in=TriageJob.PENDING_STATES)),
    )
    finished = totals["finished"]
    return {
        "per_day": _every_period(per_day, since=since, now=now, weekly=trunc is TruncWeek),
        "by_status": [(labels.get(row["status"], row["status"]), row["n"]) for row in by_status],
        "by_category": [(_label(row["category__name"]), row["n"]) for row in by_category],
        "by_sector": [(_label(row["sector__name"]), row["n"]) for row in by_sector],
        "per_week": trunc is TruncWeek,
        "total": totals["total"],
        "overdue": totals["overdue"],
        "backlog": totals["backlog"],
        "manual": totals["manual"],
        "failure_rate": round(100 * totals["failed"] / finished, 1) if finished else 0.0,
        "computed_at": now,
    }
