"""Every error a person can see says what happened and what to do, in their language, with
DEBUG off (as in production)."""

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import path, reverse

from apps.core.errors import (
    ERR_BAD_REQUEST,
    ERR_FORBIDDEN,
    ERR_METHOD_NOT_ALLOWED,
    ERR_NOT_FOUND,
    ERR_NOT_FOUND_TODO,
)
from config.urls import urlpatterns as project_urlpatterns
from tests.accounts.factories import TeacherFactory


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *project_urlpatterns]


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def page(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_404_of_someone_elses_attempt_is_a_page_in_the_users_language(client):
    client.force_login(TeacherFactory())
    response = client.get("/assessments/attempts/999999/", HTTP_ACCEPT_LANGUAGE="ms")
    assert response.status_code == 404
    assert '<html lang="ms">' in page(response)
    assert "Halaman tidak dijumpai" in page(response)


@pytest.mark.django_db
def test_404_for_an_unknown_address(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert str(ERR_NOT_FOUND) in page(response) and str(ERR_NOT_FOUND_TODO) in page(response)
    assert 'href="/"' in page(response)


@pytest.mark.django_db
def test_404_for_htmx_is_a_message_in_the_message_area(client):
    client.force_login(TeacherFactory())
    response = client.get("/assessments/attempts/999999/", HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert "<html" not in page(response)
    assert str(ERR_NOT_FOUND) in page(response)
    assert response["HX-Retarget"] == "#messages"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/logout/", "/complaints/validate/"])
def test_405_has_a_page_and_keeps_allow(client, url):
    response = client.get(url)  # a class-based view, a function view with require_POST
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert str(ERR_METHOD_NOT_ALLOWED % {"method": "GET"}) in page(response)
    assert "<html" in page(response)


@pytest.mark.django_db
def test_405_for_htmx_is_a_message_in_the_message_area(client):
    response = client.get("/complaints/validate/", HTTP_HX_REQUEST="true")
    assert response.status_code == 405
    assert "<html" not in page(response)
    assert str(ERR_METHOD_NOT_ALLOWED % {"method": "GET"}) in page(response)
    assert response["HX-Retarget"] == "#messages"


@pytest.mark.django_db
def test_405_in_hindi(client):
    response = client.get("/accounts/logout/", HTTP_ACCEPT_LANGUAGE="hi")
    assert response.status_code == 405
    assert "यह पता GET अनुरोध स्वीकार नहीं करता" in page(response)


@pytest.mark.django_db
def test_403_is_a_page(client):
    client.force_login(TeacherFactory())
    response = client.get(reverse("complaints:attachment-download", args=[1]))
    assert response.status_code == 403
    assert str(ERR_FORBIDDEN) in page(response)


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_a_page():
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x"})
    assert response.status_code == 403
    assert "without its security token" in page(response)


@pytest.mark.django_db
def test_400_is_a_page(client):
    response = client.get("/", HTTP_HOST="evil.example")  # not in ALLOWED_HOSTS
    assert response.status_code == 400
    assert str(ERR_BAD_REQUEST) in page(response)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_500_is_a_page(client):
    client.raise_request_exception = False
    response = client.get("/boom/", HTTP_ACCEPT_LANGUAGE="ms")
    assert response.status_code == 500
    assert '<html lang="ms">' in page(response)
    assert "Sila cuba lagi dalam seminit" in page(response)


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("500.html", "An error on our side stopped this request."),
        ("core/unavailable.html", "The service is briefly unavailable."),  # the 503
    ],
)
def test_standalone_pages_render_without_a_request_or_the_database(template, text):
    # No django_db mark: any query would fail this test.
    html = render_to_string(template)
    assert text in html
    assert 'href="/static/css/app.css"' in html
