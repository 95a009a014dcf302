import pytest
from django.urls import reverse

from tests.accounts.factories import TEST_PASSWORD, OfficerFactory, TeacherFactory

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


# The site's login and the admin's: the same two limits (apps.accounts.views.login_rate_limit).
LOGINS = pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
ADMIN_LOGIN = "/admin/login/"


@LOGINS
def test_login_is_rate_limited_per_username_across_addresses(client, settings, url):
    settings.LOGIN_RATE_LIMIT = "3/h"
    officer = OfficerFactory(username="officer")
    for n in range(3):
        response = client.post(
            url, {"username": "officer", "password": "guess"}, REMOTE_ADDR=f"10.0.0.{n}"
        )
        assert response.status_code == 200  # the form again, with its wrong-password error
    # Even the right password is refused while the limit holds.
    response = client.post(
        url, {"username": officer.username, "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.0.99"
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@LOGINS
def test_login_is_rate_limited_per_address(client, settings, url):
    settings.LOGIN_RATE_LIMIT = "3/h"
    for n in range(3):
        client.post(url, {"username": f"user{n}", "password": "guess"})
    assert client.get(url).status_code == 200  # only attempts count, not showing the form
    response = client.post(url, {"username": "user9", "password": "guess"})
    assert response.status_code == 429


def test_the_site_and_the_admin_login_share_their_counters(client, settings):
    settings.LOGIN_RATE_LIMIT = "2/h"
    client.post(
        reverse("login"), {"username": "officer", "password": "guess"}, REMOTE_ADDR="1.1.1.1"
    )
    client.post(ADMIN_LOGIN, {"username": "officer", "password": "guess"}, REMOTE_ADDR="2.2.2.2")
    response = client.post(
        ADMIN_LOGIN, {"username": "officer", "password": "guess"}, REMOTE_ADDR="3.3.3.3"
    )
    assert response.status_code == 429


def test_the_429_page_says_when_to_retry_in_the_users_language(client, settings):
    settings.LOGIN_RATE_LIMIT = "1/h"
    client.post(ADMIN_LOGIN, {"username": "officer", "password": "guess"})
    response = client.post(
        ADMIN_LOGIN, {"username": "officer", "password": "guess"}, HTTP_ACCEPT_LANGUAGE="ms"
    )
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= 3600
    assert f"Sila cuba lagi dalam {seconds} saat" in response.content.decode()
