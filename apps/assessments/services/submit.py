"""Scoring (in SQL, from the saved answers) and submitting: by the teacher, by the job at the
deadline, or by the sweeper for the jobs that were lost."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.accounts.models import Batch, District, User
from apps.assessments import selectors
from apps.assessments.models import (
    LIKERT_MAX,
    LIKERT_MIN,
    Answer,
    Assessment,
    Attempt,
    Choice,
    Question,
    ScoreBand,
)
from apps.assessments.services.errors import ERR_NOT_AVAILABLE, AttemptNotFound
from apps.assessments.services.save_grants import GRANT_STILL_GOOD_SQL, SaveGrant
from apps.core.generations import generation_bump
from apps.sync.services import outbox_event_record

EVENT_ATTEMPT_SUBMITTED = "attempt.submitted"

_ANSWER = Answer._meta.db_table
_QUESTION = Question._meta.db_table
_CHOICE = Choice._meta.db_table
_BAND = ScoreBand._meta.db_table


_SCORE_SQL = f"""
WITH item AS (
    SELECT q.id, q.kind, q.category, q.reverse_keyed, q.points,
           ans.choice_ids, ans.value, ans.text, COALESCE(ans.answered, false) AS answered
    FROM {_QUESTION} q
    LEFT JOIN {_ANSWER} ans ON ans.question_id = q.id AND ans.attempt_id = %(attempt)s
    WHERE q.assessment_id = %(assessment)s
), chosen AS (
    SELECT item.id,
           COALESCE(sum(c.points) FILTER (WHERE c.id = ANY(item.choice_ids)), 0) AS points,
           COALESCE(max(c.points), 0) AS best,
           count(c.id) FILTER (WHERE c.is_correct AND c.id = ANY(item.choice_ids)) AS right_chosen,
           count(c.id) FILTER (WHERE NOT c.is_correct AND c.id = ANY(item.choice_ids))
               AS wrong_chosen,
           count(c.id) FILTER (WHERE c.is_correct) AS right_total,
           COALESCE(bool_or(c.is_correct AND item.text <> ''
                            AND lower(btrim(c.text)) = lower(btrim(item.text))), false)
               AS text_right
    FROM item LEFT JOIN {_CHOICE} c ON c.question_id = item.id
    GROUP BY item.id
), scored AS (
    SELECT item.category, item.answered,
           CASE item.kind
               WHEN %(likert)s THEN CASE
                   WHEN item.value IS NULL THEN 0
                   WHEN item.reverse_keyed THEN %(likert_min)s + %(likert_max)s - item.value
                   ELSE item.value END
               WHEN %(single)s THEN chosen.points
               WHEN %(multiple)s THEN CASE WHEN chosen.right_total = 0 THEN 0 ELSE
                   item.points * GREATEST(0, chosen.right_chosen - chosen.wrong_chosen)
                   / chosen.right_total END
               WHEN %(text)s THEN CASE WHEN chosen.text_right THEN item.points ELSE 0 END
           END::numeric AS score,
           CASE item.kind
               WHEN %(likert)s THEN %(likert_max)s
               WHEN %(single)s THEN chosen.best
               ELSE item.points
           END::numeric AS max_score
    FROM item JOIN chosen ON chosen.id = item.id
), category AS (
    SELECT category, sum(score) AS score, sum(max_score) AS max_score,
           CASE WHEN %(mean)s::boolean
               THEN sum(score) FILTER (WHERE answered)
                    / NULLIF(count(*) FILTER (WHERE answered), 0)
               ELSE sum(score) END AS raw
    FROM scored GROUP BY category
)
SELECT category.category, category.score, category.max_score, round(category.raw, 2),
       (SELECT b.band FROM {_BAND} b
        WHERE b.assessment_id = %(assessment)s AND b.category = category.category
          AND b.min_raw <= category.raw
        ORDER BY b.min_raw DESC LIMIT 1)
FROM category ORDER BY category.category
"""


@dataclass(frozen=True)
class Scores:
    total: Decimal
    maximum: Decimal
    percent: Decimal
    categories: dict[str, dict]


def _quantize(value, places: str = "0.01") -> Decimal:
    return Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def attempt_scores(*, attempt: Attempt) -> Scores:
    """Scores computed in SQL from the saved answers (never from anything the browser sent):
    per-question points, partial credit, reverse-keyed Likert items, category raw scores
    (sum or mean) and their 1-10 band from the stored table."""
    assessment = attempt.assessment
    return _scores(
        attempt_id=attempt.pk,
        assessment_id=assessment.pk,
        mean=assessment.category_aggregate == Assessment.CategoryAggregate.MEAN,
    )


def _scores(*, attempt_id: int, assessment_id: int, mean: bool) -> Scores:
    with connection.cursor() as cursor:
        cursor.execute(
            _SCORE_SQL,
            {
                "attempt": attempt_id,
                "assessment": assessment_id,
                "likert": Question.Kind.LIKERT.value,
                "single": Question.Kind.SINGLE.value,
                "multiple": Question.Kind.MULTIPLE.value,
                "text": Question.Kind.TEXT.value,
                "likert_min": LIKERT_MIN,
                "likert_max": LIKERT_MAX,
                "mean": mean,
            },
        )
        rows = cursor.fetchall()
    total = sum((row[1] for row in rows), Decimal(0))
    maximum = sum((row[2] for row in rows), Decimal(0))
    categories = {
        category: {"raw": float(raw) if raw is not None else None, "band": band}
        for category, _score, _max, raw, band in rows
        if category
    }
    percent = _quantize(total * 100 / maximum, "0.1") if maximum else Decimal(0)
    return Scores(
        total=_quantize(total), maximum=_quantize(maximum), percent=percent, categories=categories
    )


# The submission storm's hot path is written in SQL: the ORM's select_for_update with its
# joins and save(update_fields=...) cost 2 ms of CPU per submit to build, ten times the
# statements themselves (measured in-process). The lock takes only the attempt's row and
# reads what the outbox payload needs from the rows it joins.
_LOCK_SQL_TEMPLATE = f"""
SELECT a.status, a.deadline, a.auto_submitted, a.submitted_at, a.number, a.assessment_id,
       s.title, s.version, s.category_aggregate,
       u.username, u.employee_id, u.first_name, u.last_name, d.name, b.name
FROM {Attempt._meta.db_table} a
JOIN {Assessment._meta.db_table} s ON s.id = a.assessment_id
JOIN {User._meta.db_table} u ON u.id = a.user_id
LEFT JOIN {District._meta.db_table} d ON d.id = u.district_id
LEFT JOIN {Batch._meta.db_table} b ON b.id = u.batch_id
WHERE a.id = %(attempt)s AND (%(user)s::bigint IS NULL OR a.user_id = %(user)s::bigint){{grant}}
FOR UPDATE OF a
"""
_LOCK_SQL = _LOCK_SQL_TEMPLATE.format(grant="")
# A save grant in place of the session and the user, checked by the lock (save_grants.py).
_LOCK_GRANTED_SQL = _LOCK_SQL_TEMPLATE.format(grant=GRANT_STILL_GOOD_SQL)
_SUBMIT_SQL = f"""
UPDATE {Attempt._meta.db_table}
SET status = %(status)s, submitted_at = %(submitted_at)s, auto_submitted = %(auto)s,
    total_score = %(total)s, max_score = %(maximum)s, percent = %(percent)s,
    category_scores = %(categories)s
WHERE id = %(attempt)s
"""


@dataclass(frozen=True)
class _Locked:
    status: str
    deadline: datetime
    auto_submitted: bool
    submitted_at: datetime | None
    number: int
    assessment_id: int
    title: str
    version: int
    category_aggregate: str
    username: str
    employee_id: str
    first_name: str
    last_name: str
    district: str | None
    batch: str | None


def _attempt_lock(attempt_id: int, user_id: int | None, grant: SaveGrant | None) -> _Locked | None:
    params = {"attempt": attempt_id, "user": user_id}
    if grant is not None:
        params.update(
            session_key=grant.session_key,
            password_digest=grant.password_digest,
            now=timezone.now(),
        )
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_GRANTED_SQL if grant else _LOCK_SQL, params)
        row = cursor.fetchone()
    return _Locked(*row) if row else None


def _submitted_payload(attempt_id: int, locked: _Locked, submitted_at, auto, scores) -> dict:
    """Flat scalars only: the sync connector maps keys to remote fields by configuration."""
    return {
        "external_key": f"attempt:{attempt_id}",
        "employee_id": locked.employee_id or locked.username,
        # User.get_full_name()
        "teacher_name": f"{locked.first_name} {locked.last_name}".strip(),
        "district": locked.district or "",
        "batch": locked.batch or "",
        "assessment_id": locked.assessment_id,
        "assessment_title": locked.title,
        "assessment_version": locked.version,
        "attempt_number": locked.number,
        "submitted_at": submitted_at.isoformat(),
        "auto_submitted": auto,
        "total_score": float(scores.total),
        "max_score": float(scores.maximum),
        "percent": float(scores.percent),
        **{f"score_{name}": score["band"] for name, score in scores.categories.items()},
    }


@dataclass(frozen=True)
class Submitted:
    attempt_id: int
    submitted_at: datetime | None  # None: not due yet (an auto-submit after an extension)
    late: bool  # the deadline had passed: submitted automatically, the caller is refused


def results_invalidate(assessment_id: int) -> None:
    generation_bump(selectors.results_generation_key(assessment_id))


def attempt_submit_granted(*, grant: SaveGrant) -> Submitted | None:
    """attempt_submit for a teacher holding a save grant (save_grants.py), whose lock also
    checks the grant's session and password: no session, no user. None when the grant no
    longer holds or the attempt is not the grant's: the caller then takes the session path,
    which submits or refuses with the reason."""
    try:
        return attempt_submit(attempt_id=grant.attempt_id, grant=grant)
    except AttemptNotFound:
        return None


def attempt_submit(
    *,
    attempt_id: int,
    user=None,
    auto: bool = False,
    now: datetime | None = None,
    grant: SaveGrant | None = None,
) -> Submitted:
    """Idempotent and cheap: lock the attempt, compute its scores in SQL, mark it submitted
    and record the outbox event, all in one transaction. Submitting again returns the same
    attempt. After the deadline the attempt is submitted automatically from the answers
    saved in time and the result says `late`. `user` None: the system (job, sweeper)."""
    given_now = now
    with transaction.atomic(durable=True):
        user_id = grant.user_id if grant is not None else user.pk if user is not None else None
        locked = _attempt_lock(attempt_id, user_id, grant)
        if locked is None:
            raise AttemptNotFound(ERR_NOT_AVAILABLE)
        # The clock is read once the lock is held: a save that got in before the lock was
        # stamped earlier, so submitted_at never precedes an answer the score counted.
        now = given_now or timezone.now()
        late = now >= locked.deadline
        if locked.status == Attempt.Status.SUBMITTED:
            return Submitted(
                attempt_id=attempt_id,
                submitted_at=locked.submitted_at,
                late=late and locked.auto_submitted and not auto,
            )
        if auto and not late:  # deadline extended: not yet due
            return Submitted(attempt_id=attempt_id, submitted_at=None, late=False)
        scores = _scores(
            attempt_id=attempt_id,
            assessment_id=locked.assessment_id,
            mean=locked.category_aggregate == Assessment.CategoryAggregate.MEAN,
        )
        submitted_at = min(now, locked.deadline)
        with connection.cursor() as cursor:
            cursor.execute(
                _SUBMIT_SQL,
                {
                    "attempt": attempt_id,
                    "status": Attempt.Status.SUBMITTED.value,
                    "submitted_at": submitted_at,
                    "auto": late,
                    "total": scores.total,
                    "maximum": scores.maximum,
                    "percent": scores.percent,
                    "categories": Jsonb(scores.categories),
                },
            )
        outbox_event_record(
            event_type=EVENT_ATTEMPT_SUBMITTED,
            aggregate_type="attempt",
            aggregate_key=f"attempt:{attempt_id}",
            payload=_submitted_payload(attempt_id, locked, submitted_at, late, scores),
        )
        assessment_id = locked.assessment_id
        transaction.on_commit(lambda: results_invalidate(assessment_id), robust=True)
    return Submitted(attempt_id=attempt_id, submitted_at=submitted_at, late=late and not auto)


def attempts_submit_expired(
    *, now: datetime | None = None, assessment: Assessment | None = None
) -> int:
    """The sweeper: submit every running attempt whose deadline has passed (jobs lost with a
    dead worker or Redis). Each in its own transaction; safe to run at any time."""
    now = now or timezone.now()
    due = Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS, deadline__lte=now)
    if assessment is not None:
        due = due.filter(assessment=assessment)
    count = 0
    for attempt_id in due.values_list("pk", flat=True).iterator(chunk_size=1000):
        attempt_submit(attempt_id=attempt_id, auto=True, now=now)
        count += 1
    return count
