import pytest
from django.urls import reverse

from tests.accounts.factories import TEST_PASSWORD, TeacherFactory

pytestmark = pytest.mark.django_db


def test_teacher_logs_in_with_employee_id(client):
    teacher = TeacherFactory()
    response = client.post(
        reverse("login"), {"username": teacher.employee_id, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(teacher.pk)


def test_wrong_password_is_a_form_error_not_a_500(client):
    teacher = TeacherFactory()
    response = client.post(reverse("login"), {"username": teacher.username, "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert 'role="alert"' in response.content.decode()


def test_login_is_rate_limited_per_username_across_addresses(client, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    teacher = TeacherFactory()
    for n in range(3):
        client.post(
            reverse("login"),
            {"username": teacher.username, "password": "guess"},
            REMOTE_ADDR=f"10.0.0.{n}",
        )
    # Even the right password is refused while the limit holds.
    response = client.post(
        reverse("login"),
        {"username": teacher.username, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_address(client, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    for n in range(3):
        client.post(reverse("login"), {"username": f"user{n}", "password": "guess"})
    response = client.post(reverse("login"), {"username": "user9", "password": "guess"})
    assert response.status_code == 429
