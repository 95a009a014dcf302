import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_login_limit(settings):
    settings.LOGIN_RATE_LIMIT = "2/m"


def _exhaust(client, **headers):
    for _ in range(2):
        client.post(reverse("login"), {"username": "nobody", "password": "x"}, **headers)
    return client.post(reverse("login"), {"username": "nobody", "password": "x"}, **headers)


def test_rate_limited_page_for_a_plain_request(client, tight_login_limit):
    response = _exhaust(client)
    assert response.status_code == 429
    body = response.content.decode()
    assert "<html" in body
    assert "Too many requests" in body


def test_rate_limited_fragment_for_htmx_goes_to_the_message_area(client, tight_login_limit):
    response = _exhaust(client, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    body = response.content.decode()
    assert "<html" not in body
    seconds = int(response["Retry-After"])
    assert f"Too many attempts in a short time. Please try again in {seconds} second" in body
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"
