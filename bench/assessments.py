"""Assessment data for the bench: a 32-item Likert questionnaire like the VESPA one, open
windows, attempts in bulk, saved answers generated in SQL, and the scoring recomputed in
plain Python to check what the app computed in SQL.

Every saved answer the bench generates has the value `likert_value(user_id, position)`;
the same formula exists as SQL (LIKERT_VALUE_SQL) so that bulk rows can be written by
PostgreSQL itself and still be recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.assessments.models import (
    LIKERT_MAX,
    LIKERT_MIN,
    Answer,
    Assessment,
    Assignment,
    Attempt,
    AttemptAdjustment,
    Question,
    ScoreBand,
)
from apps.assessments.services import EVENT_ATTEMPT_SUBMITTED, Scores
from apps.sync.models import OutboxEvent

SLUG_PREFIX = "bench-"
CATEGORIES = ("vision", "effort", "systems", "practice", "attitude")
ITEMS = 32
TIME_LIMIT_MINUTES = 24 * 60  # never runs out during a bench


def likert_value(user_id: int, position: int) -> int:
    return LIKERT_MIN + (user_id * 31 + position * 17 + (user_id % 97) * position) % 5


# In a parametrised query: "%%" is the modulo operator.
LIKERT_VALUE_SQL = f"{LIKERT_MIN} + (u.id * 31 + q.position * 17 + (u.id %% 97) * q.position) %% 5"


@dataclass(frozen=True)
class Questionnaire:
    assessment: Assessment
    assignment: Assignment
    questions: list[Question]  # by position
    bands: list[ScoreBand]  # highest lower bound first

    def question_ids(self) -> list[int]:
        return [question.pk for question in self.questions]


def questionnaire_create(slug: str) -> Questionnaire:
    """A 32-statement questionnaire in five categories (every fourth item reverse keyed),
    bands 1-10 per category, open now for every district and batch."""
    with transaction.atomic():
        assessment = Assessment.objects.create(
            title=f"Bench {slug}",
            slug=SLUG_PREFIX + slug,
            kind=Assessment.Kind.QUESTIONNAIRE,
            time_limit_minutes=TIME_LIMIT_MINUTES,
            category_aggregate=Assessment.CategoryAggregate.MEAN,
        )
        questions = Question.objects.bulk_create(
            Question(
                assessment=assessment,
                position=position,
                kind=Question.Kind.LIKERT,
                text=f"Statement {position} about how I plan and review my work.",
                category=CATEGORIES[(position - 1) % len(CATEGORIES)],
                reverse_keyed=position % 4 == 0,
            )
            for position in range(1, ITEMS + 1)
        )
        bands = ScoreBand.objects.bulk_create(
            ScoreBand(
                assessment=assessment,
                category=category,
                min_raw=Decimal(LIKERT_MIN) + Decimal("0.4") * step,
                band=step + 1,
            )
            for category in CATEGORIES
            for step in range(10)
        )
        now = timezone.now()
        assignment = Assignment.objects.create(
            assessment=assessment,
            opens_at=now - timedelta(minutes=5),
            closes_at=now + timedelta(days=2),
        )
    return Questionnaire(assessment, assignment, questions, sorted(bands, key=lambda b: -b.min_raw))


def questionnaire_get(slug: str) -> Questionnaire | None:
    assessment = Assessment.objects.filter(slug=SLUG_PREFIX + slug).first()
    if assessment is None:
        return None
    return Questionnaire(
        assessment,
        assessment.assignments.order_by("-closes_at").first(),
        list(assessment.questions.order_by("position")),
        list(assessment.bands.order_by("-min_raw")),
    )


def questionnaire_delete(slug: str) -> None:
    """Remove a bench questionnaire with its attempts, answers and outbox events."""
    assessment = Assessment.objects.filter(slug=SLUG_PREFIX + slug).first()
    if assessment is None:
        return
    attempts = Attempt.objects.filter(assessment=assessment)
    keys = [f"attempt:{pk}" for pk in attempts.values_list("pk", flat=True)]
    with transaction.atomic():
        for start in range(0, len(keys), 10_000):
            OutboxEvent.objects.filter(aggregate_key__in=keys[start : start + 10_000]).delete()
        Answer.objects.filter(attempt__assessment=assessment).delete()
        AttemptAdjustment.objects.filter(attempt__assessment=assessment).delete()
        attempts.delete()
        assessment.delete()


def attempts_create(questionnaire: Questionnaire, users, *, submitted=False) -> list[Attempt]:
    """One in-progress attempt per user, written in bulk (the bench's set-up, not the
    measured start path). With `submitted`, also scored in Python and marked submitted."""
    now = timezone.now()
    rows = []
    for user in users:
        attempt = Attempt(
            user=user,
            assessment=questionnaire.assessment,
            assignment=questionnaire.assignment,
            started_at=now,
            deadline=min(
                now + timedelta(minutes=TIME_LIMIT_MINUTES), questionnaire.assignment.closes_at
            ),
        )
        if submitted:
            values = {
                q.position: likert_value(user.pk, q.position) for q in questionnaire.questions
            }
            scores = expected_scores(questionnaire, values)
            attempt.status = Attempt.Status.SUBMITTED
            attempt.submitted_at = now
            attempt.total_score = scores.total
            attempt.max_score = scores.maximum
            attempt.percent = scores.percent
            attempt.category_scores = scores.categories
        rows.append(attempt)
    return Attempt.objects.bulk_create(rows, batch_size=5000)


def answers_fill(questionnaire: Questionnaire, attempt_ids: list[int]) -> int:
    """Every question answered for these attempts, in one INSERT ... SELECT per chunk."""
    sql = f"""
        INSERT INTO {Answer._meta.db_table}
            (attempt_id, question_id, choice_ids, value, text, flagged, answered, saved_at)
        SELECT a.id, q.id, '{{}}', {LIKERT_VALUE_SQL}, '', false, true, now()
        FROM {Attempt._meta.db_table} a
        JOIN {User._meta.db_table} u ON u.id = a.user_id
        JOIN {Question._meta.db_table} q ON q.assessment_id = a.assessment_id
        WHERE a.id = ANY(%s)
        ON CONFLICT (attempt_id, question_id) DO NOTHING
    """
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(attempt_ids), 20_000):
            cursor.execute(sql, [attempt_ids[start : start + 20_000]])
            written += cursor.rowcount
    return written


# --- Scoring, recomputed in Python -------------------------------------------------------
def _q(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def expected_scores(questionnaire: Questionnaire, values: dict[int, int]) -> Scores:
    """Likert questionnaire scoring from first principles: reverse-keyed items inverted,
    category raw score = mean of the answered items, band = the highest band whose lower
    bound the (unrounded) raw score reaches; total and percent over every item."""
    per_category: dict[str, list[int]] = {}
    total = 0
    for question in questionnaire.questions:
        value = values.get(question.position)
        if value is None:
            continue
        score = LIKERT_MIN + LIKERT_MAX - value if question.reverse_keyed else value
        per_category.setdefault(question.category, []).append(score)
        total += score
    categories = {}
    for category, scores in sorted(per_category.items()):
        mean = Decimal(sum(scores)) / len(scores)
        band = next(
            (b.band for b in questionnaire.bands if b.category == category and b.min_raw <= mean),
            None,
        )
        categories[category] = {"raw": float(_q(mean, "0.01")), "band": band}
    maximum = Decimal(LIKERT_MAX * len(questionnaire.questions))
    return Scores(
        total=_q(Decimal(total), "0.01"),
        maximum=_q(maximum, "0.01"),
        percent=_q(Decimal(total) * 100 / maximum, "0.1"),
        categories=categories,
    )


def outbox_for(attempt_ids: list[int]) -> dict[str, int]:
    """attempt key -> number of attempt.submitted events in the outbox."""
    keys = [f"attempt:{pk}" for pk in attempt_ids]
    counts: dict[str, int] = {}
    for start in range(0, len(keys), 10_000):
        for key in OutboxEvent.objects.filter(
            event_type=EVENT_ATTEMPT_SUBMITTED, aggregate_key__in=keys[start : start + 10_000]
        ).values_list("aggregate_key", flat=True):
            counts[key] = counts.get(key, 0) + 1
    return counts


def ensure_dashboard_questionnaire(*, answers: int, teachers: list) -> Questionnaire:
    """The results dashboard's data, kept between runs: submitted attempts with every item
    answered until there are `answers` saved answers (one attempt per teacher)."""
    questionnaire = questionnaire_get("dashboard") or questionnaire_create("dashboard")
    attempts = Attempt.objects.filter(assessment=questionnaire.assessment)
    missing = answers // ITEMS - attempts.count()
    if missing > 0:
        taken = set(attempts.values_list("user_id", flat=True))
        users = [teacher for teacher in teachers if teacher.pk not in taken][:missing]
        created = attempts_create(questionnaire, users, submitted=True)
        answers_fill(questionnaire, [attempt.pk for attempt in created])
    return questionnaire
