from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.assessments.models import (
    Assessment,
    Assignment,
    Choice,
    Question,
    ScoreBand,
)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    title = factory.Sequence(lambda n: f"Assessment {n}")
    slug = factory.Sequence(lambda n: f"assessment-{n}")
    kind = Assessment.Kind.QUIZ
    time_limit_minutes = 30


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    assessment = factory.SubFactory(AssessmentFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = Question.Kind.SINGLE
    text = factory.Sequence(lambda n: f"Question {n}?")
    points = Decimal(1)


class ChoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Choice

    question = factory.SubFactory(QuestionFactory)
    position = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"Choice {n}")


class ScoreBandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreBand


class AssignmentFactory(factory.django.DjangoModelFactory):
    """Open now for everyone unless told otherwise."""

    class Meta:
        model = Assignment

    assessment = factory.SubFactory(AssessmentFactory)
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))
