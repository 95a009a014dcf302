"""The teacher's dashboard: the cohort's windows (cached per generation) and the open window
an attempt starts in."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q

from apps.assessments.models import Accommodation, Assessment, Assignment, Attempt
from apps.core.generations import generation

DASHBOARD_GENERATION_KEY = "assessments:dashboard-generation"


def assignments_for_cohort(*, district_id: int | None, batch_id: int | None, now: datetime):
    """Assignments that have not closed yet for a district and batch, cached per cohort and
    invalidated by bumping the dashboard generation (any change to an assessment)."""
    key = f"assessments:dashboard:g{generation(DASHBOARD_GENERATION_KEY)}:{district_id}:{batch_id}"
    rows = cache.get(key)
    if rows is None:
        rows = list(
            Assignment.objects.filter(closes_at__gt=now)
            .filter(Q(district_id=district_id) | Q(district__isnull=True))
            .filter(Q(batch_id=batch_id) | Q(batch__isnull=True))
            .order_by("opens_at", "pk")
            .values(
                "id", "opens_at", "closes_at", "assessment_id", "assessment__title",
                "assessment__kind", "assessment__time_limit_minutes",
                "assessment__max_attempts",
            )
        )  # fmt: skip
        cache.set(key, rows, settings.ASSESSMENTS_DASHBOARD_CACHE_TTL)
    return rows


@dataclass
class DashboardEntry:
    assignment_id: int
    assessment_id: int
    title: str
    kind: str
    time_limit_minutes: int
    opens_at: datetime
    closes_at: datetime
    running: Attempt | None = None
    next_number: int | None = None


@dataclass
class Dashboard:
    open: list[DashboardEntry]
    upcoming: list[DashboardEntry]
    finished: list[Attempt]


def teacher_dashboard(*, user, now: datetime) -> Dashboard:
    attempts = list(Attempt.objects.filter(user=user).select_related("assessment"))
    by_assessment: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_assessment[attempt.assessment_id].append(attempt)
    finished = [a for a in attempts if not a.is_running(now)]
    dashboard = Dashboard(open=[], upcoming=[], finished=finished)
    seen: set[int] = set()
    for row in assignments_for_cohort(
        district_id=user.district_id, batch_id=user.batch_id, now=now
    ):
        entry = DashboardEntry(
            assignment_id=row["id"],
            assessment_id=row["assessment_id"],
            title=row["assessment__title"],
            kind=row["assessment__kind"],
            time_limit_minutes=row["assessment__time_limit_minutes"],
            opens_at=row["opens_at"],
            closes_at=row["closes_at"],
        )
        if entry.closes_at <= now:  # closed since the cohort's list was cached
            continue
        if entry.opens_at > now:
            dashboard.upcoming.append(entry)
            continue
        if entry.assessment_id in seen:
            continue  # two open windows for one cohort: one entry
        seen.add(entry.assessment_id)
        mine = by_assessment[entry.assessment_id]
        entry.running = next((a for a in mine if a.is_running(now)), None)
        if entry.running is None and len(mine) < row["assessment__max_attempts"]:
            entry.next_number = len(mine) + 1
        if entry.running or entry.next_number:
            dashboard.open.append(entry)
    # An attempt still running whose window is not listed: its window closed while staff
    # gave it extra time (an incident) or it is a window of another cohort. The teacher
    # must still find it; it closes at its own deadline.
    for attempt in attempts:
        if attempt.is_running(now) and attempt.assessment_id not in seen:
            seen.add(attempt.assessment_id)
            dashboard.open.append(
                DashboardEntry(
                    assignment_id=attempt.assignment_id,
                    assessment_id=attempt.assessment_id,
                    title=attempt.assessment.title,
                    kind=attempt.assessment.kind,
                    time_limit_minutes=attempt.assessment.time_limit_minutes,
                    opens_at=attempt.started_at,
                    closes_at=attempt.deadline,
                    running=attempt,
                )
            )
    return dashboard


@dataclass(frozen=True)
class OpenWindow:
    """The window an attempt starts in, with what a start needs of it and its assessment."""

    assignment_id: int
    closes_at: datetime
    assessment_id: int
    max_attempts: int
    time_limit_minutes: int
    extra_time_factor: Decimal | None  # the teacher's accommodation; None: none


# Written out: the same query through the ORM (two OR'd cohort filters, a subquery annotation,
# a join) took ~1.7 ms of CPU per start to build, 40% of a start (the start storm's cost),
# against ~0.1 ms for the statement. Latest closing window first, as the ORM's order_by.
_OPEN_WINDOW_SQL = f"""
SELECT w.id, w.closes_at, s.id, s.max_attempts, s.time_limit_minutes,
       (SELECT c.extra_time_factor FROM {Accommodation._meta.db_table} c
        WHERE c.assignment_id = w.id AND c.user_id = %(user)s LIMIT 1)
FROM {Assignment._meta.db_table} w JOIN {Assessment._meta.db_table} s ON s.id = w.assessment_id
WHERE w.assessment_id = %(assessment)s AND w.opens_at <= %(now)s AND w.closes_at > %(now)s
  AND (w.district_id = %(district)s OR w.district_id IS NULL)
  AND (w.batch_id = %(batch)s OR w.batch_id IS NULL)
ORDER BY w.closes_at DESC
LIMIT 1
"""


def assignment_open_for(*, user, assessment_id: int, now: datetime) -> OpenWindow | None:
    """The open window of an assessment for the user's district and batch (latest closing),
    with the user's extra time in it (None: no accommodation)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _OPEN_WINDOW_SQL,
            {
                "user": user.pk,
                "assessment": assessment_id,
                "now": now,
                "district": user.district_id,
                "batch": user.batch_id,
            },
        )
        row = cursor.fetchone()
    return OpenWindow(*row) if row else None
