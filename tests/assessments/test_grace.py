"""The grace for answers held up by us (services/grace.py): a late answer is saved only if
it arrives within ASSESSMENTS_GRACE_SECONDS of the deadline, the page queued it before the
deadline, and the server's own heartbeat shows the service failing then and until the
deadline; otherwise it is refused as before. The hot path is untouched."""

import dataclasses
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.assessments import services
from apps.assessments.models import Answer, Attempt
from apps.core.models import ServiceInterval
from tests.assessments.test_views import REDIS_ROUND_TRIPS_PER_WARM_SAVE

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def seconds(n: float):
    return NOW + timedelta(seconds=n)


def web_up(start, end):
    ServiceInterval.objects.create(role="web", started_at=start, last_seen=end)


@pytest.fixture(autouse=True)
def no_time_credit(settings):
    """The grace alone: the failures here are too short for a time credit. (After a longer
    one, a late save waits for the credit instead: test_outage_credit.py.)"""
    settings.ASSESSMENTS_OUTAGE_MIN_SECONDS = 600


@pytest.fixture
def late(teacher, quiz):
    """An attempt whose deadline was 30 s ago (NOW is deadline + 30 s), not yet submitted:
    its auto-submit failed with the service."""
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(started_at=seconds(-1800), deadline=seconds(-30))
    attempt.refresh_from_db()
    return attempt


@pytest.fixture
def outage():
    """No web beat from 90 s before the deadline until 20 s after it."""
    web_up(seconds(-3600), seconds(-120))
    web_up(seconds(-10), NOW)


def save_late(attempt, question, *, queued_left_ms, now=NOW, **fields):
    answer = dataclasses.replace(
        services.AnswerInput.of(**fields), queued_left_ms=str(queued_left_ms)
    )
    return services.answer_save(
        user=attempt.user, attempt_id=attempt.pk, question_id=question.pk, answer=answer, now=now
    )


def refused(attempt, question, **kwargs):
    with pytest.raises(services.AttemptRefused) as refusal:
        save_late(attempt, question, **kwargs)
    assert refusal.value.message == services.ERR_DEADLINE_PASSED
    assert not Answer.objects.filter(attempt=attempt, question=question).exists()


def test_inside_an_outage_and_queued_before_the_deadline_it_is_saved(late, quiz, outage):
    saved = save_late(late, quiz.q["likert"], queued_left_ms=45_000, value=4)  # 45 s before
    assert saved.answered and saved.answered_count == 1 and saved.deadline == late.deadline
    answer = Answer.objects.get(attempt=late, question=quiz.q["likert"])
    assert answer.value == 4 and answer.saved_at == NOW  # the server's time, not the page's
    # The auto-submit then scores what was saved, grace answer included.
    assert services.attempts_submit_expired(now=seconds(1)) == 1
    late.refresh_from_db()
    assert late.auto_submitted and late.total_score is not None
    assert late.submitted_at == late.deadline


def test_without_an_outage_a_late_answer_is_refused(late, quiz):
    web_up(seconds(-3600), NOW)  # the service was up all along: the teacher's connection
    refused(late, quiz.q["likert"], queued_left_ms=45_000, value=4)
    late.refresh_from_db()
    assert late.auto_submitted  # refused as before: submitted on the spot


def test_queued_after_the_deadline_is_refused(late, quiz, outage):
    for left in (0, -5000):
        refused(late, quiz.q["likert"], queued_left_ms=left, value=4)
        Attempt.objects.filter(pk=late.pk).update(status=Attempt.Status.IN_PROGRESS)


def test_beyond_the_grace_is_refused(late, quiz, outage, settings):
    settings.ASSESSMENTS_GRACE_SECONDS = 120
    refused(late, quiz.q["likert"], queued_left_ms=45_000, now=seconds(91), value=4)


def test_within_a_longer_grace_the_same_answer_is_saved(late, quiz, outage, settings):
    settings.ASSESSMENTS_GRACE_SECONDS = 120
    assert save_late(late, quiz.q["likert"], queued_left_ms=45_000, now=seconds(89), value=4)


def test_queued_while_the_service_was_up_is_refused(late, quiz, outage):
    """30 minutes before the deadline the service answered: the page's retries would have
    got the answer in; a made-up queued time gains nothing."""
    refused(late, quiz.q["likert"], queued_left_ms=1_500_000, value=4)


def test_a_failure_over_well_before_the_deadline_is_no_excuse(late, quiz):
    web_up(seconds(-3600), seconds(-900))
    web_up(seconds(-600), NOW)  # down for 5 minutes, back 9.5 minutes before the deadline
    refused(late, quiz.q["likert"], queued_left_ms=(900 - 30 - 60) * 1000, value=4)


def test_without_a_queued_time_or_with_garbage_it_is_refused(late, quiz, outage):
    for garbage in ("", "abc", "1e5", "\uff14\uff15\uff10\uff10\uff10", "99999999999999999999"):
        refused(late, quiz.q["likert"], queued_left_ms=garbage, value=4)
        Attempt.objects.filter(pk=late.pk).update(status=Attempt.Status.IN_PROGRESS)


def test_an_attempt_already_submitted_automatically_is_not_reopened(late, quiz, outage):
    services.attempts_submit_expired(now=NOW)
    refused(late, quiz.q["likert"], queued_left_ms=45_000, value=4)
    late.refresh_from_db()
    assert late.is_submitted


def test_another_teachers_attempt_gets_no_grace(late, quiz, outage, other_teacher):
    answer = dataclasses.replace(services.AnswerInput.of(value=4), queued_left_ms="45000")
    with pytest.raises(services.AttemptNotFound):
        services.answer_save(
            user=other_teacher,
            attempt_id=late.pk,
            question_id=quiz.q["likert"].pk,
            answer=answer,
            now=NOW,
        )


# --- Through the view ---------------------------------------------------------------------
def test_the_page_resend_is_taken_and_garbage_is_a_4xx(client, teacher, late, quiz, outage):
    client.force_login(teacher)
    url = reverse("assessments:answer", args=[late.pk, quiz.q["likert"].pk])
    # The view's clock is now, not NOW: place the deadline 30 s ago again.
    Attempt.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(seconds=30))
    response = client.post(url, {"value": "5", "queued_left_ms": "x"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    Attempt.objects.filter(pk=late.pk).update(status=Attempt.Status.IN_PROGRESS)
    ServiceInterval.objects.filter(started_at=seconds(-10)).update(started_at=timezone.now())
    response = client.post(url, {"value": "5", "queued_left_ms": "45000"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    assert Answer.objects.get(attempt=late, question=quiz.q["likert"]).value == 5


def test_a_queued_time_adds_nothing_to_an_on_time_save(
    teacher_client, attempt, quiz, django_assert_num_queries, redis_round_trips
):
    url = reverse("assessments:answer", args=[attempt.pk, quiz.q["likert"].pk])
    data = {"value": "3", "queued_left_ms": "45000"}
    teacher_client.post(url, data, HTTP_HX_REQUEST="true")  # warm
    with django_assert_num_queries(1), redis_round_trips() as redis:
        response = teacher_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and redis.n == REDIS_ROUND_TRIPS_PER_WARM_SAVE
