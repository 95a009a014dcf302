"""Saving an answer: the input checked against the cached question, then ONE SQL statement
(the hot path, pinned by tests/assessments/test_views.py)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from apps.assessments import selectors
from apps.assessments.models import LIKERT_MAX, LIKERT_MIN, Answer, Assessment, Attempt, Question
from apps.assessments.services.errors import (
    ERR_ALREADY_SUBMITTED,
    ERR_CREDIT_PENDING,
    ERR_DEADLINE_PASSED,
    ERR_FOREIGN_CHOICE,
    ERR_LIKERT_RANGE,
    ERR_NOT_A_NUMBER,
    ERR_NOT_AVAILABLE,
    ERR_ONE_CHOICE,
    ERR_TEXT_NUL,
    ERR_TEXT_TOO_LONG,
    ERR_UNKNOWN_QUESTION,
    ERR_WRONG_FIELD,
    AnswerInvalid,
    AttemptCreditPending,
    AttemptNotFound,
    AttemptRefused,
)
from apps.assessments.services.grace import answer_save_late
from apps.assessments.services.outages import attempt_credit_pending
from apps.assessments.services.save_grants import GRANT_STILL_GOOD_SQL, SaveGrant
from apps.assessments.services.submit import attempt_submit
from apps.core.input import BIGINT_MAX, parse_int

ANSWER_FIELDS = {
    Question.Kind.SINGLE: "choice",
    Question.Kind.MULTIPLE: "choices",
    Question.Kind.LIKERT: "value",
    Question.Kind.TEXT: "text",
}

_ATTEMPT = Attempt._meta.db_table
_ASSESSMENT = Assessment._meta.db_table
_ANSWER = Answer._meta.db_table


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
    # A save sent again after a failure: the teacher's time left when it was queued, read
    # only if the save is refused as late (services/grace.py).
    queued_left_ms: str = ""

    @classmethod
    def from_post(cls, data: QueryDict) -> "AnswerInput":
        fields = {}
        for name in ANSWER_FIELDS.values():
            values = tuple(value for value in data.getlist(name) if value != "")
            if values:
                fields[name] = values
        return cls(
            fields=fields,
            flagged=data.get("flagged", "") in ("on", "true", "1"),
            queued_left_ms=data.get("queued_left_ms", ""),
        )

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


_SAVE_SQL_TEMPLATE = f"""
WITH target AS (
    SELECT a.id, a.deadline
    FROM {_ATTEMPT} a JOIN {_ASSESSMENT} s ON s.id = a.assessment_id
    WHERE a.id = %(attempt)s AND a.user_id = %(user)s AND a.status = %(open)s
      AND a.deadline > %(now)s AND s.version = %(version)s{{grant}}
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
_SAVE_SQL = _SAVE_SQL_TEMPLATE.format(grant="")
# A save grant (save_grants.py) in place of the session and the user: what the session path
# would have checked, checked by the statement that writes.
_SAVE_GRANTED_SQL = _SAVE_SQL_TEMPLATE.format(grant=GRANT_STILL_GOOD_SQL)


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
        .values_list("status", "auto_submitted", "deadline", "assessment__version", "started_at")
        .first()
    )
    if row is None:
        raise AttemptNotFound(ERR_NOT_AVAILABLE)
    status, auto_submitted, deadline, current, started_at = row
    if attempt_credit_pending(
        status=status, auto_submitted=auto_submitted, started_at=started_at, deadline=deadline,
        now=now,
    ):  # fmt: skip
        # The service is just back from an outage whose credit is on its way: the page
        # sends the answer again (503) instead of dropping it as refused.
        raise AttemptCreditPending(ERR_CREDIT_PENDING)
    if status == Attempt.Status.SUBMITTED:
        raise AttemptRefused(ERR_DEADLINE_PASSED if auto_submitted else ERR_ALREADY_SUBMITTED)
    if deadline <= now:
        attempt_submit(attempt_id=attempt_id, auto=True, now=now)
        raise AttemptRefused(ERR_DEADLINE_PASSED)
    return current


def _save_statement(
    sql: str, *, attempt_id: int, user_id: int, content, question_id: int, clean, now, **grant
):
    """Run a save statement: the row (deadline, answered count, saved) or None when no open
    attempt of this user on this content version matched."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "attempt": attempt_id,
                "user": user_id,
                "open": Attempt.Status.IN_PROGRESS.value,
                "now": now,
                "version": content.version,
                "question": question_id,
                "choice_ids": clean.choice_ids,
                "value": clean.value,
                "text": clean.text,
                "flagged": clean.flagged,
                "answered": clean.answered,
                **grant,
            },
        )
        return cursor.fetchone()


def _saved(question, clean: CleanAnswer, content, row) -> AnswerSaved:
    deadline, answered_count, _saved_rows = row
    return AnswerSaved(
        question=question,
        answered=clean.answered,
        flagged=clean.flagged,
        answered_count=answered_count,
        total=content.total,
        deadline=deadline,
    )


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
        row = _save_statement(
            _SAVE_SQL,
            attempt_id=attempt_id,
            user_id=user.pk,
            content=content,
            question_id=question_id,
            clean=clean,
            now=now,
        )
        if row is None and answer.queued_left_ms:  # refused: an answer held up by us?
            row = answer_save_late(
                user=user,
                attempt_id=attempt_id,
                version=content.version,
                question_id=question_id,
                clean=clean,
                queued_left_ms=answer.queued_left_ms,
                now=now,
            )
        if row is not None:
            return _saved(question, clean, content, row)
        version = _attempt_refusal(attempt_id=attempt_id, user=user, now=now)
        selectors.attempt_meta_load(attempt_id=attempt_id)
    raise AttemptRefused(ERR_ALREADY_SUBMITTED)


def answer_save_granted(
    *, grant: SaveGrant, question_id: int, answer: AnswerInput, now: datetime | None = None
) -> AnswerSaved | None:
    """The save of a teacher holding a save grant (save_grants.py): the same checks and the
    same ONE statement, which also checks the grant's session and password; no session, no
    user. None when the answer was not saved here, for whatever reason (not open, invalid,
    the content moved on, the grant no longer good): the caller then takes the session path,
    which saves or refuses with the reason."""
    now = now or timezone.now()
    meta = selectors.attempt_meta(attempt_id=grant.attempt_id)
    if meta is None or meta.user_id != grant.user_id:
        return None
    content = selectors.assessment_content(assessment_id=meta.assessment_id, version=meta.version)
    question = content.by_id.get(question_id)
    if question is None:
        return None
    try:
        clean = answer_clean(question=question, answer=answer)
    except AnswerInvalid:
        return None
    row = _save_statement(
        _SAVE_GRANTED_SQL,
        attempt_id=grant.attempt_id,
        user_id=grant.user_id,
        content=content,
        question_id=question_id,
        clean=clean,
        now=now,
        session_key=grant.session_key,
        password_digest=grant.password_digest,
    )
    return None if row is None else _saved(question, clean, content, row)
