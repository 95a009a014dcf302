"""The start storm's data checks against real attempts: they pass for starts made by the real
service, and each one finds the fault it is for (a wrong deadline, a start outside its
request, a redirect to another attempt, a resumed attempt changed)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.assessments import services
from apps.assessments.models import Accommodation, Attempt
from bench.arrivals import Outcome
from bench.assessments import attempts_create, questionnaire_create
from bench.report import ScenarioResult
from bench.scenarios.start_storm import EXTRA_TIME, WINDOW_AFTER_START, StartStorm
from tests.accounts.factories import TeacherFactory

pytestmark = pytest.mark.django_db


def _problems(result: ScenarioResult) -> dict[str, int]:
    return {m.name: m.value for m in result.metrics if m.check}


@pytest.fixture
def storm():
    questionnaire = questionnaire_create("start-storm-test")
    assignment = questionnaire.assignment
    assignment.closes_at = timezone.now() + WINDOW_AFTER_START
    assignment.save(update_fields=["closes_at"])
    plain, accommodated, resuming = TeacherFactory.create_batch(3)
    Accommodation.objects.create(
        assignment=assignment, user=accommodated, extra_time_factor=EXTRA_TIME
    )
    resumed = {
        a.user_id: (a.pk, a.started_at, a.deadline)
        for a in attempts_create(questionnaire, [resuming])
    }
    outcomes = []
    for teacher in (plain, accommodated, resuming):
        due = time.time()
        attempt = services.attempt_start(
            user=teacher, assessment_id=questionnaire.assessment.pk, number=1
        )
        latency_ms = (time.time() - due) * 1000
        location = f"/en/assessments/attempts/{attempt.pk}/"
        outcomes.append(Outcome(f"start-{teacher.pk}", 302, latency_ms, b"", location, due))
    return questionnaire, outcomes, resumed, {accommodated.pk}, (plain, accommodated, resuming)


def _check(questionnaire, outcomes, resumed, accommodated) -> dict[str, int]:
    result = ScenarioResult("start_storm", "Start storm")
    StartStorm.check(result, questionnaire, outcomes, resumed, accommodated)
    return _problems(result)


def test_starts_by_the_service_pass_every_check(storm):
    questionnaire, outcomes, resumed, accommodated, (_plain, extra, _resuming) = storm
    assert set(_check(questionnaire, outcomes, resumed, accommodated).values()) == {0}
    # The accommodated teacher's deadline is the window's close: both sides of min() ran.
    attempt = Attempt.objects.get(user=extra, assessment=questionnaire.assessment)
    assert attempt.deadline == questionnaire.assignment.closes_at


def test_each_check_finds_its_fault(storm):
    questionnaire, outcomes, resumed, accommodated, (plain, extra, resuming) = storm
    mine = Attempt.objects.filter(assessment=questionnaire.assessment)
    mine.filter(user=plain).update(deadline=timezone.now() + timedelta(hours=1))
    mine.filter(user=resuming).update(deadline=timezone.now() + timedelta(hours=2))
    late = [Outcome(o.id, o.status, o.latency_ms, b"", o.location, o.due_at - 60) for o in outcomes]
    elsewhere = [*late, Outcome(f"again-{plain.pk}", 302, 1.0, b"", "/en/", time.time() + 60)]
    problems = _check(questionnaire, elsewhere, resumed, accommodated)
    assert problems == {
        "acknowledged starts without an attempt": 0,
        "teachers with more than one attempt (same assessment, number 1)": 0,
        "starts redirected to another attempt (or none)": 1,
        "new attempts with a wrong deadline (recomputed here)": 1,
        "new attempts started outside the request that started them": 2,
        "resumed attempts changed (start time, deadline or id)": 1,
    }
    mine.filter(user=extra).delete()
    assert (
        _check(questionnaire, outcomes, resumed, accommodated)[
            "acknowledged starts without an attempt"
        ]
        == 1
    )
