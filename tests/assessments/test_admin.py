from datetime import timedelta

import pytest
from django.urls import reverse

from apps.assessments import selectors
from tests.accounts.factories import UserFactory, verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    verified_login(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_pages_render(admin_client, attempt, quiz):
    for name, args in [
        ("admin:assessments_assessment_changelist", []),
        ("admin:assessments_assessment_change", [quiz.pk]),
        ("admin:assessments_question_change", [quiz.q["single"].pk]),
        ("admin:assessments_assignment_change", [quiz.window.pk]),
        ("admin:assessments_attempt_changelist", []),
        ("admin:assessments_attempt_change", [attempt.pk]),
    ]:
        assert admin_client.get(reverse(name, args=args)).status_code == 200, name


def question_form(assessment, **fields) -> dict:
    return {
        "assessment": assessment.pk, "position": 3, "kind": "likert", "text": "Reworded?",
        "category": "", "points": "1", "choices-TOTAL_FORMS": "0",
        "choices-INITIAL_FORMS": "0", "choices-MIN_NUM_FORMS": "0",
        "choices-MAX_NUM_FORMS": "1000", **fields,
    }  # fmt: skip


def test_editing_a_question_in_the_admin_bumps_the_version(admin_client, quiz):
    likert = quiz.q["likert"]
    old = selectors.assessment_content(assessment_id=quiz.pk, version=quiz.version)
    url = reverse("admin:assessments_question_change", args=[likert.pk])
    assert admin_client.post(url, question_form(quiz)).status_code == 302
    quiz.refresh_from_db()
    assert quiz.version == old.version + 1
    new = selectors.assessment_content(assessment_id=quiz.pk, version=quiz.version)
    assert new.by_id[likert.pk].text == "Reworded?"
    assert old.by_id[likert.pk].text != "Reworded?"  # the old version's entry is untouched


def test_adding_a_question_in_the_admin_bumps_the_version(admin_client, quiz):
    url = reverse("admin:assessments_question_add")
    assert admin_client.post(url, question_form(quiz, position=9)).status_code == 302
    quiz.refresh_from_db()
    assert quiz.version == 2
    assert selectors.assessment_content(assessment_id=quiz.pk, version=2).total == 5


def test_an_accommodation_added_in_the_admin_extends_the_running_attempt(admin_client, attempt):
    window = attempt.assignment
    local = window.opens_at.astimezone()
    closes = window.closes_at.astimezone()
    response = admin_client.post(
        reverse("admin:assessments_assignment_change", args=[window.pk]),
        {
            "assessment": window.assessment_id, "district": "", "batch": "",
            "opens_at_0": local.strftime("%Y-%m-%d"), "opens_at_1": local.strftime("%H:%M:%S"),
            "closes_at_0": closes.strftime("%Y-%m-%d"), "closes_at_1": closes.strftime("%H:%M:%S"),
            "accommodations-TOTAL_FORMS": "1", "accommodations-INITIAL_FORMS": "0",
            "accommodations-MIN_NUM_FORMS": "0", "accommodations-MAX_NUM_FORMS": "1000",
            "accommodations-0-user": attempt.user_id,
            "accommodations-0-extra_time_factor": "2",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    attempt.refresh_from_db()
    assert attempt.deadline == attempt.started_at + timedelta(minutes=60)  # 30 min x 2
