"""An attempt's meta (what an answer save needs first, cached in the cache and in each
process), the owner's attempt, its answers and where to resume it."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum
from django.shortcuts import get_object_or_404

from apps.assessments.models import Answer, Attempt, AttemptAdjustment
from apps.assessments.selectors.content import AssessmentContent


@dataclass(frozen=True)
class AttemptMeta:
    """What an answer save needs to know before its single SQL statement."""

    user_id: int
    assessment_id: int
    version: int


def attempt_meta_key(attempt_id: int) -> str:
    # "m2": AttemptMeta moved to this module; a process of the release before cannot
    # unpickle it, so the two releases keep apart keys during a rolling deploy.
    return f"assessments:attempt:m2:{attempt_id}"


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


def attempt_for_user(*, attempt_id: int, user, with_credit: bool = False) -> Attempt:
    """The user's own attempt, or 404: another teacher's attempt does not exist for them.
    `with_credit`: also its `outage_minutes`, the minutes credited for service
    interruptions (services/outages.py), in the same query."""
    attempts = Attempt.objects.select_related("assessment")
    if with_credit:
        attempts = attempts.annotate(
            outage_minutes=Sum(
                "adjustments__minutes",
                filter=Q(adjustments__kind=AttemptAdjustment.Kind.OUTAGE),
                default=0,
            )
        )
    return get_object_or_404(attempts, pk=attempt_id, user=user)


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
