"""Reads for assessments. Everything here is read-only, so a replica router may take it."""

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404

from apps.assessments.models import (
    Accommodation,
    Answer,
    Assessment,
    Assignment,
    Attempt,
    Question,
)
from apps.core.generations import generation
from apps.core.input import BIGINT_MAX, parse_int
from apps.core.replica import reads_may_lag

DASHBOARD_GENERATION_KEY = "assessments:dashboard-generation"
RESULTS_LOCK_SECONDS = 30


# --- Question content, cached by assessment version -------------------------------------
@dataclass(frozen=True)
class ChoiceContent:
    id: int
    text: str


@dataclass(frozen=True)
class QuestionContent:
    id: int
    position: int
    kind: str
    text: str
    category: str
    choices: tuple[ChoiceContent, ...] = ()

    @property
    def choice_ids(self) -> frozenset[int]:
        return frozenset(choice.id for choice in self.choices)


@dataclass(frozen=True)
class AssessmentContent:
    assessment_id: int
    version: int
    questions: tuple[QuestionContent, ...]
    by_id: dict[int, QuestionContent] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.questions)


def content_key(assessment_id: int, version: int) -> str:
    return f"assessments:content:{assessment_id}:v{version}"


def _content_build(assessment_id: int) -> AssessmentContent:
    # One statement, so the version and the questions come from one snapshot: a concurrent
    # edit (which bumps the version in the same transaction) can never be mixed in.
    rows = (
        Question.objects.filter(assessment_id=assessment_id)
        .order_by("position", "pk", "choices__position", "choices__pk")
        .values_list(
            "id", "position", "kind", "text", "category", "assessment__version",
            "choices__id", "choices__text",
        )
    )  # fmt: skip
    version = None
    questions: dict[int, dict] = {}
    for qid, position, kind, text, category, row_version, choice_id, choice_text in rows:
        version = row_version
        entry = questions.setdefault(
            qid,
            {"id": qid, "position": position, "kind": kind, "text": text, "category": category,
             "choices": []},
        )  # fmt: skip
        if choice_id is not None:
            entry["choices"].append(ChoiceContent(id=choice_id, text=choice_text))
    if version is None:  # no questions yet
        version = Assessment.objects.values_list("version", flat=True).get(pk=assessment_id)
    # Positions are renumbered 1..N in order, so navigation never meets a gap.
    built = tuple(
        QuestionContent(**{**entry, "position": index, "choices": tuple(entry["choices"])})
        for index, entry in enumerate(questions.values(), start=1)
    )
    return AssessmentContent(
        assessment_id=assessment_id,
        version=version,
        questions=built,
        by_id={question.id: question for question in built},
    )


# Content of a given (assessment, version) never changes (any edit bumps the version), so
# each process also keeps the ones it has seen: most saves then skip even the cache round trip.
_LOCAL_CONTENT: dict[tuple[int, int], AssessmentContent] = {}
LOCAL_CONTENT_MAX = 256


def assessment_content(*, assessment_id: int, version: int) -> AssessmentContent:
    """The questions of an assessment as of `version`, from the cache. On a miss the content
    is read from the database; if the assessment has moved on, the newer content is returned
    (its `version` says so) and cached under its own key."""
    content = _LOCAL_CONTENT.get((assessment_id, version))
    if content is not None:
        return content
    content = cache.get(content_key(assessment_id, version))
    if content is None:
        content = _content_build(assessment_id)
        cache.set(
            content_key(assessment_id, content.version), content, settings.ASSESSMENTS_CACHE_TTL
        )
    if len(_LOCAL_CONTENT) >= LOCAL_CONTENT_MAX:
        _LOCAL_CONTENT.clear()
    _LOCAL_CONTENT[(assessment_id, content.version)] = content
    return content


# --- Attempts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AttemptMeta:
    """What an answer save needs to know before its single SQL statement."""

    user_id: int
    assessment_id: int
    version: int


def attempt_meta_key(attempt_id: int) -> str:
    return f"assessments:attempt:{attempt_id}"


def attempt_meta_load(*, attempt_id: int) -> AttemptMeta | None:
    row = (
        Attempt.objects.filter(pk=attempt_id)
        .values_list("user_id", "assessment_id", "assessment__version")
        .first()
    )
    return _attempt_meta_store(attempt_id, AttemptMeta(*row)) if row else None


def attempt_meta_remember(*, attempt: Attempt) -> None:
    """Cache the meta of an attempt already loaded (with its assessment): no query."""
    meta = AttemptMeta(attempt.user_id, attempt.assessment_id, attempt.assessment.version)
    _attempt_meta_store(attempt.pk, meta)


# Each process keeps the metas it has seen: a warm save then needs no cache round trip for
# it. A stale copy is harmless: the save's SQL checks owner, state, deadline and version
# itself, and a refused save reloads the meta (answer_save).
_LOCAL_META: dict[int, AttemptMeta] = {}
LOCAL_META_MAX = 50_000  # ~100 bytes each: a slot's attempts fit in a few MB per process


def _attempt_meta_store(attempt_id: int, meta: AttemptMeta) -> AttemptMeta:
    cache.set(attempt_meta_key(attempt_id), meta, settings.ASSESSMENTS_CACHE_TTL)
    _attempt_meta_keep(attempt_id, meta)
    return meta


def _attempt_meta_keep(attempt_id: int, meta: AttemptMeta) -> None:
    if len(_LOCAL_META) >= LOCAL_META_MAX:
        _LOCAL_META.clear()
    _LOCAL_META[attempt_id] = meta


def attempt_meta(*, attempt_id: int) -> AttemptMeta | None:
    meta = _LOCAL_META.get(attempt_id)
    if meta is None:
        meta = cache.get(attempt_meta_key(attempt_id))
        if meta is None:
            return attempt_meta_load(attempt_id=attempt_id)
        _attempt_meta_keep(attempt_id, meta)
    return meta


def attempt_for_user(*, attempt_id: int, user) -> Attempt:
    """The user's own attempt, or 404: another teacher's attempt does not exist for them."""
    return get_object_or_404(Attempt.objects.select_related("assessment"), pk=attempt_id, user=user)


def attempt_answers(*, attempt: Attempt) -> dict[int, Answer]:
    return {answer.question_id: answer for answer in Answer.objects.filter(attempt=attempt)}


def attempt_resume_position(*, content: AssessmentContent, answers: dict[int, Answer]) -> int:
    """The position of the last question answered (1 when none). A save that cleared an
    answer (or only flagged the question) leaves its row unanswered: it does not count."""
    answered = [
        answer
        for answer in answers.values()
        if answer.answered and answer.question_id in content.by_id
    ]
    if not answered:
        return 1
    last = max(answered, key=lambda answer: answer.saved_at)
    return content.by_id[last.question_id].position


def seconds_left(*, deadline: datetime, now: datetime) -> int:
    return max(0, int((deadline - now).total_seconds()))


# --- Teacher dashboard ------------------------------------------------------------------
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
    return dashboard


def assignment_open_for(*, user, assessment_id: int, now: datetime) -> Assignment | None:
    """The open window of an assessment for the user's district and batch (latest closing),
    with the user's extra time in it as `extra_time_factor` (None: no accommodation)."""
    accommodation = Accommodation.objects.filter(assignment_id=OuterRef("pk"), user_id=user.pk)
    return (
        Assignment.objects.filter(assessment_id=assessment_id, opens_at__lte=now, closes_at__gt=now)
        .annotate(extra_time_factor=Subquery(accommodation.values("extra_time_factor")[:1]))
        .filter(Q(district_id=user.district_id) | Q(district__isnull=True))
        .filter(Q(batch_id=user.batch_id) | Q(batch__isnull=True))
        .select_related("assessment")
        .order_by("-closes_at")
        .first()
    )


# --- Staff results ----------------------------------------------------------------------
def results_generation_key(assessment_id: int) -> str:
    return f"assessments:results-generation:{assessment_id}"


def _cached_with_refresh(*, key: str, generation_key: str, compute: Callable[[], dict]) -> dict:
    """Serve a cached value; recompute when the generation moved (submits happened) and the
    value is older than the refresh interval, or when it is missing. Only one process
    recomputes a stale value (a cache lock); the others keep serving it meanwhile, so a
    burst of submits never turns into a burst of dashboard queries."""
    values = cache.get_many([key, generation_key])
    entry, generation = values.get(key), values.get(generation_key, 0)
    now = time.time()
    lock = f"{key}:lock"
    if entry is not None:
        moved = entry["generation"] != generation
        due = now - entry["computed_at"] >= settings.ASSESSMENTS_RESULTS_REFRESH_SECONDS
        if not (moved and due) or not cache.add(lock, 1, RESULTS_LOCK_SECONDS):
            return entry["data"]
        locked = True
    else:  # nothing to serve: compute, holding the lock if nobody else does
        locked = cache.add(lock, 1, RESULTS_LOCK_SECONDS)
    try:
        data = compute()
        cache.set(
            key,
            {"data": data, "generation": generation, "computed_at": now},
            settings.ASSESSMENTS_RESULTS_CACHE_TTL,
        )
    finally:
        if locked:
            cache.delete(lock)
    return data


PERCENT_BUCKETS = [(low, low + 10) for low in range(0, 100, 10)]


@reads_may_lag()  # a replica a few seconds behind is fine for these figures
def _results_compute(assessment: Assessment) -> dict:
    attempts = Attempt.objects.filter(assessment=assessment)
    submitted = attempts.filter(status=Attempt.Status.SUBMITTED)

    def completion(field_name: str) -> list[dict]:
        return list(
            attempts.values(label=F(field_name))
            .annotate(
                started=Count("pk"),
                submitted=Count("pk", filter=Q(status=Attempt.Status.SUBMITTED)),
            )
            .order_by("label")
        )

    by_district = completion("user__district__name")
    by_batch = completion("user__batch__name")
    buckets = submitted.aggregate(
        **{
            f"b{low}": Count("pk", filter=Q(percent__gte=low, percent__lt=high))
            for low, high in PERCENT_BUCKETS[:-1]
        },
        b90=Count("pk", filter=Q(percent__gte=90)),
    )
    bands: dict[str, list[int]] = defaultdict(list)
    if assessment.is_questionnaire:
        for scores in submitted.values_list("category_scores", flat=True).iterator(chunk_size=5000):
            for category, score in scores.items():
                if score.get("band"):
                    bands[category].append(score["band"])
    return {
        "by_district": by_district,
        "by_batch": by_batch,
        "completion_bars": [(row["label"] or "-", row["submitted"]) for row in by_district],
        "distribution": [(f"{low}-{high}%", buckets[f"b{low}"]) for low, high in PERCENT_BUCKETS],
        "mean_bands": [
            (category.title(), round(sum(values) / len(values), 1))
            for category, values in sorted(bands.items())
        ],
        "submitted": submitted.count(),
    }


def results_cache_key(assessment: Assessment) -> str:
    return f"assessments:results:{assessment.pk}:v{assessment.version}"


def results_summary(*, assessment: Assessment) -> dict:
    return _cached_with_refresh(
        key=results_cache_key(assessment),
        generation_key=results_generation_key(assessment.pk),
        compute=lambda: _results_compute(assessment),
    )


def results_assessments():
    return Assessment.objects.annotate(
        submitted=Count("attempts", filter=Q(attempts__status=Attempt.Status.SUBMITTED))
    ).order_by("title")


# --- Export -----------------------------------------------------------------------------
def _answer_cell(answer: Answer, choice_text: dict[int, str]) -> str | int:
    if answer.choice_ids:
        return "; ".join(choice_text.get(pk, str(pk)) for pk in answer.choice_ids)
    if answer.value is not None:
        return answer.value  # a number, not text: the CSV writer leaves it as it is
    return answer.text


def results_export(*, assessment: Assessment, chunk_size: int = 2000) -> tuple[list[str], Iterator]:
    """The header and a generator of rows (one per submitted attempt), streamed with a
    server-side cursor; answers are fetched per chunk of attempts, so memory stays flat."""
    content = assessment_content(assessment_id=assessment.pk, version=assessment.version)
    categories = sorted({q.category for q in content.questions if q.category})
    choice_text = {c.id: c.text for q in content.questions for c in q.choices}
    position = {q.id: q.position for q in content.questions}
    header = [
        "attempt_id", "employee_id", "teacher_name", "district", "batch", "attempt_number",
        "started_at", "submitted_at", "auto_submitted", "total_score", "max_score", "percent",
        *(f"{c}_{part}" for c in categories for part in ("raw", "band")),
        *(f"q{q.position}" for q in content.questions),
    ]  # fmt: skip
    attempts = (
        Attempt.objects.filter(assessment=assessment, status=Attempt.Status.SUBMITTED)
        .select_related("user__district", "user__batch")
        .order_by("pk")
        .iterator(chunk_size=chunk_size)
    )

    def rows():
        chunk: list[Attempt] = []
        for attempt in attempts:
            chunk.append(attempt)
            if len(chunk) == chunk_size:
                yield from _export_chunk(chunk, categories, choice_text, position, content)
                chunk = []
        yield from _export_chunk(chunk, categories, choice_text, position, content)

    return header, rows()


def _export_chunk(chunk, categories, choice_text, position, content) -> Iterator[list]:
    if not chunk:
        return
    answers: dict[int, dict[int, str | int]] = defaultdict(dict)
    for answer in Answer.objects.filter(attempt__in=[a.pk for a in chunk], answered=True):
        answers[answer.attempt_id][position.get(answer.question_id)] = _answer_cell(
            answer, choice_text
        )
    for attempt in chunk:
        user = attempt.user
        scores = attempt.category_scores
        yield [
            attempt.pk,
            user.employee_id or user.username,
            user.get_full_name(),
            user.district.name if user.district else "",
            user.batch.name if user.batch else "",
            attempt.number,
            attempt.started_at.isoformat(),
            attempt.submitted_at.isoformat() if attempt.submitted_at else "",
            attempt.auto_submitted,
            _plain(attempt.total_score),
            _plain(attempt.max_score),
            _plain(attempt.percent),
            *(scores.get(c, {}).get(part, "") for c in categories for part in ("raw", "band")),
            *(answers[attempt.pk].get(q.position, "") for q in content.questions),
        ]


def _plain(value: Decimal | None) -> Decimal | str:
    # 10.00 -> 10, still a number (a negative score is not a formula to neutralise).
    return "" if value is None else Decimal(format(value.normalize(), "f"))


def assessment_by_ref(ref: str) -> Assessment | None:
    """An assessment by id or slug (management commands)."""
    try:
        lookup = {"pk": parse_int(ref, minimum=1, maximum=BIGINT_MAX)}
    except ValueError:  # "²" passes isdigit() but not int(): a slug, never a crash
        lookup = {"slug": ref}
    return Assessment.objects.filter(**lookup).first()
