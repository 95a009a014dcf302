"""The save grant on the submit (services/save_grants.py, submit.py): with it the submit
loads neither the session nor the user, and submits exactly when the session path would."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.assessments import services
from apps.assessments.models import Attempt
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.test_save_grants import (
    GRANT_META,
    _change_password,
    _deactivate,
    _delete_sessions,
    _expire_session,
    _log_out,
    page_grant,
)
from tests.assessments.test_views import HTMX, body

pytestmark = pytest.mark.django_db
# The lock (with the grant's checks), the scores, the update and the outbox row; in a test
# the submit's transaction is a savepoint, whose SAVEPOINT and RELEASE count too.
QUERIES_PER_GRANTED_SUBMIT = 4 + 2


def submit_url(attempt) -> str:
    return reverse("assessments:submit", args=[attempt.pk])


def htmx_submit(client, attempt, grant):
    return client.post(submit_url(attempt), **HTMX, **{GRANT_META: grant})


def submitted(attempt) -> bool:
    return Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.SUBMITTED


def test_a_granted_submit_reads_neither_the_session_nor_the_user(
    teacher_client, attempt, quiz, other_teacher, django_assert_num_queries, redis_round_trips
):
    # Another teacher submits through the session path, for comparison.
    other = services.attempt_start(user=other_teacher, assessment_id=quiz.pk)
    other_client = Client()
    other_client.force_login(other_teacher)
    page_grant(other_client, other)  # the same warm caches as the teacher's
    with redis_round_trips() as session_path:
        assert other_client.post(submit_url(other), **HTMX).status_code == 200
    assert submitted(other)

    grant = page_grant(teacher_client, attempt)
    with django_assert_num_queries(QUERIES_PER_GRANTED_SUBMIT), redis_round_trips() as granted:
        response = htmx_submit(teacher_client, attempt, grant)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("assessments:result", args=[attempt.pk])
    assert submitted(attempt)
    assert OutboxEvent.objects.filter(aggregate_key=f"attempt:{attempt.pk}").count() == 1
    assert granted.n == session_path.n - 2  # no session, no user


def test_the_review_page_submits_with_its_grant_in_the_form(teacher_client, attempt):
    page = body(teacher_client.get(reverse("assessments:review", args=[attempt.pk])))
    forms = re.findall(r'<form[^>]*id="(submit-form|time-up-form)"[^>]*>(.*?)</form>', page, re.S)
    grants = {re.search(r'name="save_grant" value="([^"]+)"', form)[1] for _, form in forms}
    assert len(forms) == 2 and len(grants) == 1
    response = teacher_client.post(submit_url(attempt), {"save_grant": grants.pop()})
    assert response.status_code == 302
    assert response.url == reverse("assessments:result", args=[attempt.pk])
    assert submitted(attempt)


@pytest.mark.parametrize(
    "revoke",
    [_log_out, _change_password, _deactivate, _expire_session, _delete_sessions],
    ids=["log out", "password changed", "deactivated", "session expired", "session deleted"],
)
def test_a_grant_submits_nothing_once_the_session_is_over(
    teacher_client, teacher, attempt, revoke, django_capture_on_commit_callbacks
):
    grant = page_grant(teacher_client, attempt)
    session_key = teacher_client.cookies[settings.SESSION_COOKIE_NAME].value
    with django_capture_on_commit_callbacks(execute=True):  # the user's cached copy dropped
        revoke(teacher_client, teacher, session_key)
    teacher_client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    response = teacher_client.post(submit_url(attempt), {"save_grant": grant})
    assert response.status_code == 302 and reverse("login") in response.url
    assert not submitted(attempt)


def test_another_teachers_grant_submits_nothing(teacher_client, attempt):
    grant = page_grant(teacher_client, attempt)
    thief = Client()
    thief.force_login(TeacherFactory())
    response = htmx_submit(thief, attempt, grant)
    assert response.status_code == 404
    assert not submitted(attempt)


@pytest.mark.parametrize("garbage", ["", "x", "é" * 40, "a" * 5000, "1:2:3:4:5"])
def test_a_submit_with_a_garbage_grant_takes_the_session_path(teacher_client, attempt, garbage):
    response = teacher_client.post(submit_url(attempt), {"save_grant": garbage})
    assert response.status_code == 302 and submitted(attempt)


def test_a_granted_submit_still_needs_the_csrf_token(teacher, attempt):
    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    grant = page_grant(client, attempt)
    assert htmx_submit(client, attempt, grant).status_code == 403
    assert not submitted(attempt)
