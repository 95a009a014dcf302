"""Writes for assessments: start, save an answer, submit, auto-submit, windows, accommodations.

Views, admin, commands and jobs all call these; a rule lives here once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.http import QueryDict
from django.utils import timezone

from apps.assessments import selectors
from apps.assessments.models import (
    LIKERT_MAX,
    LIKERT_MIN,
    Accommodation,
    Answer,
    Assessment,
    Assignment,
    Attempt,
    Choice,
    Question,
    ScoreBand,
)
from apps.core.exceptions import ApplicationError, Invalid, NotFound, Refused
from apps.core.generations import generation_bump
from apps.core.input import BIGINT_MAX, SMALLINT_MAX, parse_int
from apps.core.outage import after_commit
from apps.core.queues import get_queue
from apps.sync.services import outbox_event_record

ERR_NOT_AVAILABLE = "This assessment is not open for you."
ERR_NO_ATTEMPTS_LEFT = "You have used all the attempts allowed for this assessment."
ERR_WRONG_ATTEMPT_NUMBER = "Start attempt {expected} next, not attempt {given}."
ERR_DEADLINE_PASSED = (
    "The time is up: this attempt was submitted automatically. "
    "Answers saved before the deadline count."
)
ERR_ALREADY_SUBMITTED = "This attempt has been submitted; answers can no longer change."
ERR_UNKNOWN_QUESTION = "This question is not part of the assessment."
ERR_NOT_A_NUMBER = "The field {field} must be a whole number (digits 0-9)."
ERR_ATTEMPT_NUMBER = "The attempt number must be from 1 to {high}."
ERR_ONE_CHOICE = "Choose one answer only."
ERR_FOREIGN_CHOICE = "That choice does not belong to this question."
ERR_LIKERT_RANGE = "Give a value from {low} to {high}."
ERR_TEXT_NUL = "The answer contains a null character, which cannot be saved."
ERR_TEXT_TOO_LONG = "The answer is longer than {limit} characters."
ERR_WRONG_FIELD = "This question does not take the field {field}."
ERR_WINDOW = "The window must close after it opens."

ANSWER_FIELDS = {
    Question.Kind.SINGLE: "choice",
    Question.Kind.MULTIPLE: "choices",
    Question.Kind.LIKERT: "value",
    Question.Kind.TEXT: "text",
}
EVENT_ATTEMPT_SUBMITTED = "attempt.submitted"
AUTO_SUBMIT_JOB = "apps.assessments.jobs.attempt_auto_submit"  # by name: jobs imports us


class AssessmentError(ApplicationError):
    """A refusal by an assessments service, with a message for the teacher or staff (the
    core's ApplicationError family: the edges give it its status, apps/core/errors.py)."""


class AttemptNotFound(AssessmentError, NotFound):
    pass


class AssessmentNotAvailable(AssessmentError, NotFound):
    pass


class AttemptRefused(AssessmentError, Refused):
    pass


class AnswerInvalid(AssessmentError, Invalid):
    pass


# --- Versions and caches ----------------------------------------------------------------
def dashboard_invalidate() -> None:
    """Every cohort's cached dashboard goes stale at once (a new generation)."""
    generation_bump(selectors.DASHBOARD_GENERATION_KEY)


def assessment_bump_version(*, assessment_id: int) -> None:
    """Call after any change to an assessment's content: its cached content is keyed by
    version, so nobody is served a mix of the old and the new."""
    Assessment.objects.filter(pk=assessment_id).update(version=F("version") + 1)
    transaction.on_commit(dashboard_invalidate)


# --- Windows and accommodations ---------------------------------------------------------
def attempt_deadline(
    *, started_at: datetime, time_limit_minutes: int, factor: Decimal, closes_at: datetime
) -> datetime:
    """min(start + limit x accommodation, window close)."""
    allowed = timedelta(seconds=int(time_limit_minutes * 60 * Decimal(factor)))
    return min(started_at + allowed, closes_at)


def _accommodation_factor(*, assignment_id: int, user_id: int) -> Decimal:
    factor = (
        Accommodation.objects.filter(assignment_id=assignment_id, user_id=user_id)
        .values_list("extra_time_factor", flat=True)
        .first()
    )
    return factor or Decimal(1)


def _schedule_auto_submit(attempt: Attempt) -> None:
    """After commit: an RQ job at the deadline. If Redis loses it (or is down: logged once,
    the start still succeeds), the sweeper still submits the attempt from its row."""

    def enqueue():
        get_queue(settings.ASSESSMENTS_AUTOSUBMIT_QUEUE).enqueue_at(
            attempt.deadline,
            AUTO_SUBMIT_JOB,
            attempt.pk,
            job_id=f"attempt-{attempt.pk}-autosubmit-{int(attempt.deadline.timestamp())}",
        )

    after_commit(enqueue)


def assessment_open(
    *,
    assessment: Assessment,
    opens_at: datetime,
    closes_at: datetime,
    district=None,
    batch=None,
) -> Assignment:
    if closes_at <= opens_at:
        raise AssessmentError(ERR_WINDOW)
    with transaction.atomic(durable=True):
        assignment = Assignment.objects.create(
            assessment=assessment,
            district=district,
            batch=batch,
            opens_at=opens_at,
            closes_at=closes_at,
        )
        transaction.on_commit(dashboard_invalidate)
    return assignment


def assessment_close(*, assessment: Assessment, now: datetime | None = None) -> int:
    """Close every open window now; running attempts end now and are submitted from their
    saved answers. Returns how many attempts were submitted."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        windows = Assignment.objects.filter(assessment=assessment, closes_at__gt=now)
        Assignment.objects.filter(pk__in=windows.filter(opens_at__lt=now)).update(closes_at=now)
        windows.filter(attempts__isnull=True).delete()  # not open yet: nobody started
        Attempt.objects.filter(
            assessment=assessment, status=Attempt.Status.IN_PROGRESS, deadline__gt=now
        ).update(deadline=now)
        transaction.on_commit(dashboard_invalidate)
    return attempts_submit_expired(now=now, assessment=assessment)


def accommodation_set(*, assignment: Assignment, user, factor: Decimal) -> Accommodation:
    """Give a teacher extra time; a running attempt gets its new deadline at once."""
    with transaction.atomic(durable=True):
        accommodation, _ = Accommodation.objects.update_or_create(
            assignment=assignment, user=user, defaults={"extra_time_factor": factor}
        )
        attempt_deadline_refresh(assignment=assignment, user=user)
    return accommodation


def attempt_deadline_refresh(*, assignment: Assignment, user) -> None:
    """Recompute the deadline of the user's running attempt in this window (in the caller's
    transaction: the admin's, or accommodation_set's) and schedule its auto-submit."""
    factor = _accommodation_factor(assignment_id=assignment.pk, user_id=user.pk)
    running = (
        Attempt.objects.select_for_update()
        .select_related("assessment")
        .filter(assignment=assignment, user=user, status=Attempt.Status.IN_PROGRESS)
    )
    for attempt in running:
        attempt.deadline = attempt_deadline(
            started_at=attempt.started_at,
            time_limit_minutes=attempt.assessment.time_limit_minutes,
            factor=factor,
            closes_at=assignment.closes_at,
        )
        attempt.save(update_fields=["deadline"])
        _schedule_auto_submit(attempt)


# --- Start ------------------------------------------------------------------------------
def attempt_start(
    *, user, assessment_id: int, number: int = 1, now: datetime | None = None
) -> Attempt:
    """Idempotent: starting attempt `number` again returns that attempt, whatever its state,
    so a double click, two tabs or a replayed POST never create a second one."""
    if not 1 <= number <= SMALLINT_MAX:
        raise AnswerInvalid(ERR_ATTEMPT_NUMBER.format(high=SMALLINT_MAX))
    now = now or timezone.now()
    # A teacher's attempts at one assessment are a handful: one read answers "resume" (this
    # number exists, in any state), "running" and "how many taken". A start that races
    # with this read is settled by the unique constraint below.
    mine = list(Attempt.objects.filter(user=user, assessment_id=assessment_id))
    for attempt in mine:
        if attempt.number == number:
            return attempt
    assignment = selectors.assignment_open_for(user=user, assessment_id=assessment_id, now=now)
    if assignment is None:
        raise AssessmentNotAvailable(ERR_NOT_AVAILABLE)
    assessment = assignment.assessment
    for attempt in mine:
        if attempt.is_running(now):
            return attempt
    taken = len(mine)
    if taken >= assessment.max_attempts:
        raise AttemptRefused(ERR_NO_ATTEMPTS_LEFT)
    if number != taken + 1:
        raise AttemptRefused(ERR_WRONG_ATTEMPT_NUMBER.format(expected=taken + 1, given=number))
    factor = assignment.extra_time_factor or Decimal(1)
    try:
        with transaction.atomic(durable=True):
            attempt = Attempt.objects.create(
                user=user,
                assessment=assessment,
                assignment=assignment,
                number=number,
                started_at=now,
                deadline=attempt_deadline(
                    started_at=now,
                    time_limit_minutes=assessment.time_limit_minutes,
                    factor=factor,
                    closes_at=assignment.closes_at,
                ),
            )
            _schedule_auto_submit(attempt)
    except IntegrityError:  # a concurrent start won the race: same attempt for both
        return Attempt.objects.get(user=user, assessment_id=assessment_id, number=number)
    return attempt


_ATTEMPT = Attempt._meta.db_table
_ASSESSMENT = Assessment._meta.db_table
_ANSWER = Answer._meta.db_table
_QUESTION = Question._meta.db_table
_CHOICE = Choice._meta.db_table
_BAND = ScoreBand._meta.db_table


# --- Save an answer ---------------------------------------------------------------------
@dataclass(frozen=True)
class CleanAnswer:
    choice_ids: list[int]
    value: int | None
    text: str
    flagged: bool

    @property
    def answered(self) -> bool:
        return bool(self.choice_ids) or self.value is not None or bool(self.text)


def _int(value: str, name: str) -> int:
    """ASCII digits only (apps.core.input): fullwidth or Arabic-Indic digits are refused."""
    try:
        return parse_int(value, minimum=-BIGINT_MAX, maximum=BIGINT_MAX)
    except ValueError:
        raise AnswerInvalid(ERR_NOT_A_NUMBER.format(field=name)) from None


@dataclass(frozen=True)
class AnswerInput:
    """An answer as the teacher gave it, before it is checked against its question: the
    non-empty values of each answer field sent ("choice", "choices", "value", "text") and
    the review flag. From a form post (`from_post`), a command or a test (`of`)."""

    fields: dict[str, tuple[str, ...]]
    flagged: bool = False

    @classmethod
    def from_post(cls, data: QueryDict) -> "AnswerInput":
        fields = {}
        for name in ANSWER_FIELDS.values():
            values = tuple(value for value in data.getlist(name) if value != "")
            if values:
                fields[name] = values
        return cls(fields=fields, flagged=data.get("flagged", "") in ("on", "true", "1"))

    @classmethod
    def of(cls, *, flagged: bool = False, **fields) -> "AnswerInput":
        """AnswerInput.of(value=4), .of(choices=[1, 2]), .of(text="...")."""
        given = {}
        for name, value in fields.items():
            values = value if isinstance(value, list | tuple) else [value]
            given[name] = tuple(str(v) for v in values if str(v) != "")
        return cls(
            fields={name: values for name, values in given.items() if values}, flagged=flagged
        )


def _ints(answer: AnswerInput, name: str) -> list[int]:
    return [_int(value, name) for value in answer.fields.get(name, ())]


def attempt_number_parse(value: str) -> int:
    """The attempt number a teacher asks to start, from the posted form."""
    return _int(value, "number")


def answer_clean(*, question: selectors.QuestionContent, answer: AnswerInput) -> CleanAnswer:
    """Check an answer against its question (from the cached content)."""
    expected = ANSWER_FIELDS[question.kind]
    for name in answer.fields:
        if name != expected:
            raise AnswerInvalid(ERR_WRONG_FIELD.format(field=name))
    choice_ids: list[int] = []
    value = None
    text = ""
    if question.kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
        choice_ids = _ints(answer, expected)
        if question.kind == Question.Kind.SINGLE and len(choice_ids) > 1:
            raise AnswerInvalid(ERR_ONE_CHOICE)
        if not set(choice_ids) <= question.choice_ids:
            raise AnswerInvalid(ERR_FOREIGN_CHOICE)
        choice_ids = sorted(set(choice_ids))
    elif question.kind == Question.Kind.LIKERT:
        values = _ints(answer, expected)
        if len(values) > 1 or any(not LIKERT_MIN <= v <= LIKERT_MAX for v in values):
            raise AnswerInvalid(ERR_LIKERT_RANGE.format(low=LIKERT_MIN, high=LIKERT_MAX))
        value = values[0] if values else None
    else:
        texts = answer.fields.get(expected, ())
        text = texts[-1].strip() if texts else ""  # a repeated field: the last, as a form's
        if "\x00" in text:  # PostgreSQL text cannot hold it
            raise AnswerInvalid(ERR_TEXT_NUL)
        if len(text) > settings.ASSESSMENTS_TEXT_MAX_LENGTH:
            raise AnswerInvalid(
                ERR_TEXT_TOO_LONG.format(limit=settings.ASSESSMENTS_TEXT_MAX_LENGTH)
            )
    return CleanAnswer(choice_ids=choice_ids, value=value, text=text, flagged=answer.flagged)


_SAVE_SQL = f"""
WITH target AS (
    SELECT a.id, a.deadline
    FROM {_ATTEMPT} a JOIN {_ASSESSMENT} s ON s.id = a.assessment_id
    WHERE a.id = %(attempt)s AND a.user_id = %(user)s AND a.status = %(open)s
      AND a.deadline > %(now)s AND s.version = %(version)s
    FOR KEY SHARE OF a
), saved AS (
    INSERT INTO {_ANSWER}
        (attempt_id, question_id, choice_ids, value, text, flagged, answered, saved_at)
    SELECT target.id, %(question)s, %(choice_ids)s::bigint[], %(value)s::smallint,
           %(text)s::text, %(flagged)s::boolean, %(answered)s::boolean, %(now)s
    FROM target
    ON CONFLICT (attempt_id, question_id) DO UPDATE SET
        choice_ids = EXCLUDED.choice_ids, value = EXCLUDED.value, text = EXCLUDED.text,
        flagged = EXCLUDED.flagged, answered = EXCLUDED.answered, saved_at = EXCLUDED.saved_at
    RETURNING 1
)
SELECT target.deadline,
       (SELECT count(*) FROM {_ANSWER} o
        WHERE o.attempt_id = target.id AND o.answered AND o.question_id <> %(question)s)
       + CASE WHEN %(answered)s::boolean THEN 1 ELSE 0 END,
       (SELECT count(*) FROM saved)
FROM target
"""


@dataclass(frozen=True)
class AnswerSaved:
    question: selectors.QuestionContent
    answered: bool
    flagged: bool
    answered_count: int
    total: int
    deadline: datetime


def _attempt_refusal(*, attempt_id: int, user, now: datetime) -> int:
    """Why the save statement matched no open attempt: raise the refusal, or return the
    current version (the cached content was out of date). An attempt found past its
    deadline is submitted automatically here, so it shows as such at once."""
    row = (
        Attempt.objects.filter(pk=attempt_id, user=user)
        .values_list("status", "auto_submitted", "deadline", "assessment__version")
        .first()
    )
    if row is None:
        raise AttemptNotFound(ERR_NOT_AVAILABLE)
    status, auto_submitted, deadline, current = row
    if status == Attempt.Status.SUBMITTED:
        raise AttemptRefused(ERR_DEADLINE_PASSED if auto_submitted else ERR_ALREADY_SUBMITTED)
    if deadline <= now:
        attempt_submit(attempt_id=attempt_id, auto=True, now=now)
        raise AttemptRefused(ERR_DEADLINE_PASSED)
    return current


def answer_save(
    *, user, attempt_id: int, question_id: int, answer: AnswerInput, now: datetime | None = None
) -> AnswerSaved:
    """Upsert one answer. The hot path is ONE SQL statement: the attempt's owner, state,
    deadline and content version are checked and the answer written in a single
    INSERT ... ON CONFLICT, which also counts progress. A single statement is atomic by
    itself, so no explicit transaction (BEGIN/COMMIT would triple the round trips). The
    signed-in user, the attempt's meta and the content (keyed by version) come from the cache."""
    now = now or timezone.now()
    meta = selectors.attempt_meta(attempt_id=attempt_id)
    if meta is None or meta.user_id != user.pk:
        raise AttemptNotFound(ERR_NOT_AVAILABLE)
    version = meta.version
    for _ in range(2):  # a second round only after the assessment's version moved on
        content = selectors.assessment_content(assessment_id=meta.assessment_id, version=version)
        question = content.by_id.get(question_id)
        if question is None:
            raise AnswerInvalid(ERR_UNKNOWN_QUESTION)
        clean = answer_clean(question=question, answer=answer)
        with connection.cursor() as cursor:
            cursor.execute(
                _SAVE_SQL,
                {
                    "attempt": attempt_id,
                    "user": user.pk,
                    "open": Attempt.Status.IN_PROGRESS.value,
                    "now": now,
                    "version": content.version,
                    "question": question_id,
                    "choice_ids": clean.choice_ids,
                    "value": clean.value,
                    "text": clean.text,
                    "flagged": clean.flagged,
                    "answered": clean.answered,
                },
            )
            row = cursor.fetchone()
        if row is not None:
            deadline, answered_count, _saved = row
            return AnswerSaved(
                question=question,
                answered=clean.answered,
                flagged=clean.flagged,
                answered_count=answered_count,
                total=content.total,
                deadline=deadline,
            )
        version = _attempt_refusal(attempt_id=attempt_id, user=user, now=now)
        selectors.attempt_meta_load(attempt_id=attempt_id)
    raise AttemptRefused(ERR_ALREADY_SUBMITTED)


# --- Scoring and submit -----------------------------------------------------------------
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
    with connection.cursor() as cursor:
        cursor.execute(
            _SCORE_SQL,
            {
                "attempt": attempt.pk,
                "assessment": assessment.pk,
                "likert": Question.Kind.LIKERT.value,
                "single": Question.Kind.SINGLE.value,
                "multiple": Question.Kind.MULTIPLE.value,
                "text": Question.Kind.TEXT.value,
                "likert_min": LIKERT_MIN,
                "likert_max": LIKERT_MAX,
                "mean": assessment.category_aggregate == Assessment.CategoryAggregate.MEAN,
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


def _submitted_payload(attempt: Attempt) -> dict:
    """Flat scalars only: the sync connector maps keys to remote fields by configuration."""
    user = attempt.user
    key = f"attempt:{attempt.pk}"
    return {
        "external_key": key,
        "employee_id": user.employee_id or user.username,
        "teacher_name": user.get_full_name(),
        "district": user.district.name if user.district else "",
        "batch": user.batch.name if user.batch else "",
        "assessment_id": attempt.assessment_id,
        "assessment_title": attempt.assessment.title,
        "assessment_version": attempt.assessment.version,
        "attempt_number": attempt.number,
        "submitted_at": attempt.submitted_at.isoformat(),
        "auto_submitted": attempt.auto_submitted,
        "total_score": float(attempt.total_score),
        "max_score": float(attempt.max_score),
        "percent": float(attempt.percent),
        **{f"score_{name}": score["band"] for name, score in attempt.category_scores.items()},
    }


@dataclass(frozen=True)
class Submitted:
    attempt: Attempt
    late: bool  # the deadline had passed: submitted automatically, the caller is refused


def _results_invalidate(assessment_id: int) -> None:
    generation_bump(selectors.results_generation_key(assessment_id))


def attempt_submit(
    *, attempt_id: int, user=None, auto: bool = False, now: datetime | None = None
) -> Submitted:
    """Idempotent and cheap: lock the attempt, compute its scores in SQL, mark it submitted
    and record the outbox event, all in one transaction. Submitting again returns the same
    attempt. After the deadline the attempt is submitted automatically from the answers
    saved in time and the result says `late`. `user` None: the system (job, sweeper)."""
    now = now or timezone.now()
    owner = Q(user=user) if user is not None else Q()
    with transaction.atomic(durable=True):
        attempt = (
            Attempt.objects.select_for_update(of=("self",))
            .select_related("assessment", "user__district", "user__batch")
            .filter(owner, pk=attempt_id)
            .first()
        )
        if attempt is None:
            raise AttemptNotFound(ERR_NOT_AVAILABLE)
        late = now >= attempt.deadline
        if attempt.is_submitted:
            return Submitted(attempt=attempt, late=late and attempt.auto_submitted and not auto)
        if auto and not late:
            return Submitted(attempt=attempt, late=False)  # deadline extended: not yet due
        scores = attempt_scores(attempt=attempt)
        attempt.status = Attempt.Status.SUBMITTED
        attempt.submitted_at = min(now, attempt.deadline)
        attempt.auto_submitted = late
        attempt.total_score = scores.total
        attempt.max_score = scores.maximum
        attempt.percent = scores.percent
        attempt.category_scores = scores.categories
        attempt.save(
            update_fields=[
                "status", "submitted_at", "auto_submitted", "total_score", "max_score",
                "percent", "category_scores",
            ]
        )  # fmt: skip
        outbox_event_record(
            event_type=EVENT_ATTEMPT_SUBMITTED,
            aggregate_type="attempt",
            aggregate_key=f"attempt:{attempt.pk}",
            payload=_submitted_payload(attempt),
        )
        transaction.on_commit(lambda: _results_invalidate(attempt.assessment_id), robust=True)
    return Submitted(attempt=attempt, late=late and not auto)


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
