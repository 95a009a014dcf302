"""An assessment's questions, cached by content version (in the cache and in each process),
and the lookup of an assessment by id or slug."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from apps.assessments.models import Assessment, Question
from apps.core.input import BIGINT_MAX, parse_int


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
    # "c2": the content classes moved to this module (see attempt_meta_key).
    return f"assessments:content:c2:{assessment_id}:v{version}"


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


def assessment_by_ref(ref: str) -> Assessment | None:
    """An assessment by id or slug (management commands)."""
    try:
        lookup = {"pk": parse_int(ref, minimum=1, maximum=BIGINT_MAX)}
    except ValueError:  # "²" passes isdigit() but not int(): a slug, never a crash
        lookup = {"slug": ref}
    return Assessment.objects.filter(**lookup).first()
