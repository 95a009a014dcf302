"""The take page's save grant (services/save_grants.py): a save with it loads neither the
session nor the user, and is accepted exactly when the session path would accept it."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.assessments import services
from apps.assessments.models import Answer
from apps.assessments.services.save_grants import save_grant_read
from tests.accounts.factories import TeacherFactory
from tests.assessments.test_views import HTMX, answer_url, body

pytestmark = pytest.mark.django_db
GRANT_META = "HTTP_" + services.SAVE_GRANT_HEADER.upper().replace("-", "_")
# The rate limit's one script: no session, no user.
REDIS_ROUND_TRIPS_PER_GRANTED_SAVE = 1


def page_grant(client, attempt) -> str:
    """The grant as the take page hands it to its script."""
    page = client.get(reverse("assessments:take", args=[attempt.pk]))
    return re.search(r'data-save-grant="([^"]+)"', body(page))[1]


def post(client, attempt, question, grant, **data):
    return client.post(answer_url(attempt, question), data, **HTMX, **{GRANT_META: grant})


def stored_value(attempt, question):
    return (
        Answer.objects.filter(attempt=attempt, question=question)
        .values_list("value", flat=True)
        .first()
    )


def test_a_granted_save_is_one_statement_and_one_redis_round_trip(
    teacher_client, attempt, quiz, django_assert_num_queries, redis_round_trips
):
    grant = page_grant(teacher_client, attempt)
    post(teacher_client, attempt, quiz.q["likert"], grant, value=1)  # warms the content cache
    with django_assert_num_queries(1), redis_round_trips() as redis:
        response = post(teacher_client, attempt, quiz.q["likert"], grant, value=4)
    assert response.status_code == 200
    assert "1 of 4 answered" in body(response)
    assert redis.n == REDIS_ROUND_TRIPS_PER_GRANTED_SAVE
    assert stored_value(attempt, quiz.q["likert"]) == 4


def test_the_page_grant_is_bound_to_its_attempt_and_session(teacher_client, attempt):
    grant = page_grant(teacher_client, attempt)
    session_key = teacher_client.cookies[settings.SESSION_COOKIE_NAME].value
    read = save_grant_read(grant=grant, session_key=session_key, attempt_id=attempt.pk)
    assert read is not None and read.user_id == attempt.user_id
    assert save_grant_read(grant=grant, session_key=session_key, attempt_id=attempt.pk + 1) is None
    assert save_grant_read(grant=grant, session_key="x" * 32, attempt_id=attempt.pk) is None


@hypothesis_settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0, max_value=400), char=st.characters())
def test_a_changed_grant_is_never_read(position, char):
    """Any one-character change to a genuine grant: not a grant (the session path decides)."""

    class Teacher:
        pk = 7
        password = "pbkdf2_sha256$1$salt$hash"

    grant = services.save_grant_issue(attempt_id=3, user=Teacher, session_key="k" * 32)
    index = position % (len(grant) + 1)
    changed = grant[:index] + char + grant[index + 1 :]
    read = save_grant_read(grant=changed, session_key="k" * 32, attempt_id=3)
    assert read is None or changed == grant


@pytest.mark.parametrize(
    "garbage", ["", "x", "1.2.3.4:abc", "é" * 40, "a" * 5000, "\x00", "1:2:3:4:5"]
)
def test_a_save_with_a_garbage_grant_takes_the_session_path(teacher_client, attempt, quiz, garbage):
    response = post(teacher_client, attempt, quiz.q["likert"], garbage, value=3)
    assert response.status_code == 200 and stored_value(attempt, quiz.q["likert"]) == 3


def _log_out(client, user, session_key):
    client.post(reverse("logout"))


def _change_password(client, user, session_key):
    user.set_password("a-new-password-1")
    user.save()


def _deactivate(client, user, session_key):
    user.is_active = False
    user.save()


def _expire_session(client, user, session_key):
    Session.objects.filter(session_key=session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    cache.clear()  # the cached copy would outlive it by its own timeout only


def _delete_sessions(client, user, session_key):
    Session.objects.all().delete()
    cache.clear()


@pytest.mark.parametrize(
    "revoke",
    [_log_out, _change_password, _deactivate, _expire_session, _delete_sessions],
    ids=["log out", "password changed", "deactivated", "session expired", "session deleted"],
)
def test_a_grant_ends_with_what_ends_the_session(
    teacher_client, teacher, attempt, quiz, revoke, django_capture_on_commit_callbacks
):
    grant = page_grant(teacher_client, attempt)
    session_key = teacher_client.cookies[settings.SESSION_COOKIE_NAME].value
    assert post(teacher_client, attempt, quiz.q["likert"], grant, value=2).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # the user's cached copy dropped
        revoke(teacher_client, teacher, session_key)
    # The page still has the grant and the browser still sends the old session cookie.
    teacher_client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    response = post(teacher_client, attempt, quiz.q["likert"], grant, value=5)
    assert response.status_code == 302 and reverse("login") in response.url
    assert stored_value(attempt, quiz.q["likert"]) == 2


def test_another_teachers_grant_saves_nothing(teacher_client, attempt, quiz):
    grant = page_grant(teacher_client, attempt)
    thief = Client()
    thief.force_login(TeacherFactory())
    # Even with the thief's own session: the grant is bound to the teacher's session.
    response = post(thief, attempt, quiz.q["likert"], grant, value=5)
    assert response.status_code == 404
    assert stored_value(attempt, quiz.q["likert"]) is None


def test_a_grant_with_the_teachers_other_session_takes_the_session_path(
    teacher_client, teacher, attempt, quiz, redis_round_trips
):
    grant = page_grant(teacher_client, attempt)
    second_browser = Client()
    second_browser.force_login(teacher)
    with redis_round_trips() as redis:
        response = post(second_browser, attempt, quiz.q["likert"], grant, value=3)
    assert response.status_code == 200 and stored_value(attempt, quiz.q["likert"]) == 3
    assert redis.n > REDIS_ROUND_TRIPS_PER_GRANTED_SAVE  # the session and the user were read


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("likert", {"value": "9"}, services.ERR_LIKERT_RANGE.format(low=1, high=5)),
        ("single", {"choice": "abc"}, services.ERR_NOT_A_NUMBER.format(field="choice")),
        ("text", {"value": "3"}, services.ERR_WRONG_FIELD.format(field="value")),
    ],
)
def test_a_granted_save_is_refused_as_the_session_path_refuses(
    teacher_client, attempt, quiz, key, data, message
):
    grant = page_grant(teacher_client, attempt)
    response = post(teacher_client, attempt, quiz.q[key], grant, **data)
    assert response.status_code == 400 and message in body(response)
    assert not Answer.objects.exists()


def test_a_granted_save_after_submitting_is_refused_with_the_reason(teacher_client, attempt, quiz):
    grant = page_grant(teacher_client, attempt)
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    response = post(teacher_client, attempt, quiz.q["likert"], grant, value=4)
    assert response.status_code == 409
    assert str(services.ERR_ALREADY_SUBMITTED) in body(response)
    assert not Answer.objects.exists()


def test_the_rate_limit_counts_both_paths_together(teacher_client, attempt, quiz, settings):
    settings.ASSESSMENTS_SAVE_RATE_LIMIT = "2/m"
    grant = page_grant(teacher_client, attempt)
    url = answer_url(attempt, quiz.q["likert"])
    assert post(teacher_client, attempt, quiz.q["likert"], grant, value=1).status_code == 200
    assert teacher_client.post(url, {"value": 2}, **HTMX).status_code == 200  # no grant
    assert post(teacher_client, attempt, quiz.q["likert"], grant, value=3).status_code == 429
    assert stored_value(attempt, quiz.q["likert"]) == 2


def test_a_granted_save_still_needs_the_csrf_token(teacher, attempt, quiz):
    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    grant = page_grant(client, attempt)
    response = post(client, attempt, quiz.q["likert"], grant, value=4)
    assert response.status_code == 403
    assert not Answer.objects.exists()
