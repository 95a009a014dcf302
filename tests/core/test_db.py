"""row_insert writes what Model.save() would, field for field, and fails as it would."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.assessments.models import Assessment, Attempt
from apps.core.db import row_insert, rows_fetch
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.factories import AssessmentFactory, AssignmentFactory

pytestmark = pytest.mark.django_db


def _stored_as_saved(instance):
    """Every concrete field read back equals what the instance holds after the insert."""
    stored = type(instance).objects.get(pk=instance.pk)
    for field in instance._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(instance, field.attname), field.name
    assert not instance._state.adding


def _attempt(user, assessment, **fields):
    now = timezone.now()
    return Attempt(
        user=user,
        assessment=assessment,
        assignment=AssignmentFactory(assessment=assessment),
        started_at=now,
        deadline=now + timedelta(minutes=20),
        **fields,
    )


def test_defaults_json_and_decimals_are_written_as_save_writes_them():
    event = OutboxEvent(
        event_type="attempt.submitted",
        aggregate_type="attempt",
        aggregate_key="attempt:1",
        payload={"score": 7.5, "name": "Åsa ✓", "nested": {"list": [1, None]}},
        payload_hash="0" * 64,
    )
    row_insert(event)
    _stored_as_saved(event)
    assert event.status == OutboxEvent.Status.PENDING and event.next_attempt_at is not None

    attempt = _attempt(
        TeacherFactory(), AssessmentFactory(), total_score=Decimal("12.50"), percent=Decimal("3.1")
    )
    row_insert(attempt)
    _stored_as_saved(attempt)
    assert attempt.category_scores == {} and attempt.number == 1


def test_auto_now_is_stamped():
    assessment = Assessment(title="Row insert", slug="row-insert")
    row_insert(assessment)
    _stored_as_saved(assessment)
    assert assessment.updated_at is not None


def test_a_constraint_violation_is_an_integrity_error_that_rolls_back_only_its_block():
    teacher, assessment = TeacherFactory(), AssessmentFactory()
    row_insert(_attempt(teacher, assessment, number=1))
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic():
            row_insert(_attempt(teacher, assessment, number=1))
        row_insert(_attempt(teacher, assessment, number=2))
    assert sorted(Attempt.objects.values_list("number", flat=True)) == [1, 2]


def test_rows_fetch_builds_the_instances_the_orm_builds():
    teacher, assessment = TeacherFactory(), AssessmentFactory()
    for number in (1, 2):
        row_insert(_attempt(teacher, assessment, number=number, total_score=Decimal("1.50")))
    row_insert(_attempt(TeacherFactory(), assessment))
    fetched = rows_fetch(Attempt, "user_id = %s ORDER BY number", [teacher.pk])
    expected = list(Attempt.objects.filter(user=teacher).order_by("number"))
    assert [a.pk for a in fetched] == [a.pk for a in expected]
    for got, want in zip(fetched, expected, strict=True):
        for field in Attempt._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(want, field.attname), field.name
        assert not got._state.adding and got._state.db == "default"
    assert rows_fetch(Attempt, "user_id = %s", [0]) == []
