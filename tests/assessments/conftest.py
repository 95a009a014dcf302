"""Assessment fixtures: a small quiz (one question of each kind) and a questionnaire with
reverse-keyed items and a band table, both open now; teachers from the accounts factories."""

from decimal import Decimal

import pytest

from apps.assessments import services
from apps.assessments.models import Assessment, Question
from tests.accounts.factories import TeacherFactory
from tests.assessments.factories import (
    AssessmentFactory,
    AssignmentFactory,
    ChoiceFactory,
    QuestionFactory,
    ScoreBandFactory,
)


@pytest.fixture
def teacher(db):
    return TeacherFactory()


@pytest.fixture
def other_teacher(db):
    return TeacherFactory()


@pytest.fixture
def quiz(db):
    """single (right = 2 points), multiple (2 of 3 right, 3 points), likert, text ("Paris")."""
    assessment = AssessmentFactory(kind=Assessment.Kind.QUIZ, max_attempts=2)
    single = QuestionFactory(assessment=assessment, position=1, kind=Question.Kind.SINGLE)
    single.right = ChoiceFactory(question=single, points=2, is_correct=True)
    single.wrong = ChoiceFactory(question=single, points=0)
    multiple = QuestionFactory(
        assessment=assessment, position=2, kind=Question.Kind.MULTIPLE, points=Decimal(3)
    )
    multiple.right = [ChoiceFactory(question=multiple, is_correct=True) for _ in range(2)]
    multiple.wrong = ChoiceFactory(question=multiple)
    likert = QuestionFactory(assessment=assessment, position=3, kind=Question.Kind.LIKERT)
    text = QuestionFactory(
        assessment=assessment, position=4, kind=Question.Kind.TEXT, points=Decimal(2)
    )
    ChoiceFactory(question=text, text="Paris", is_correct=True)
    assessment.q = {"single": single, "multiple": multiple, "likert": likert, "text": text}
    assessment.window = AssignmentFactory(assessment=assessment)
    return assessment


@pytest.fixture
def questionnaire(db):
    """Two categories of two Likert items; the second "grit" item is reverse keyed. Mean
    raw scores; bands: from 1 -> 1, from 3 -> 5, from 4.5 -> 10."""
    assessment = AssessmentFactory(
        kind=Assessment.Kind.QUESTIONNAIRE,
        category_aggregate=Assessment.CategoryAggregate.MEAN,
    )
    items = []
    for position, (category, reverse) in enumerate(
        [("calm", False), ("calm", False), ("grit", False), ("grit", True)], start=1
    ):
        items.append(
            QuestionFactory(
                assessment=assessment,
                position=position,
                kind=Question.Kind.LIKERT,
                category=category,
                reverse_keyed=reverse,
            )
        )
    for category in ("calm", "grit"):
        for low, band in ((1, 1), (3, 5), (Decimal("4.5"), 10)):
            ScoreBandFactory(assessment=assessment, category=category, min_raw=low, band=band)
    assessment.items = items
    assessment.window = AssignmentFactory(assessment=assessment)
    return assessment


@pytest.fixture
def attempt(teacher, quiz):
    return services.attempt_start(user=teacher, assessment_id=quiz.pk)


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client
