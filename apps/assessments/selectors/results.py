"""Staff results: the summary figures (cached, recomputed by one process at a time) and the
streamed export."""

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q

from apps.assessments.models import Answer, Assessment, Attempt
from apps.assessments.selectors.content import assessment_content
from apps.core.replica import reads_may_lag

RESULTS_LOCK_SECONDS = 30


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


# --- Export ---------------------------------------------------------------------------
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
