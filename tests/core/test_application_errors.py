"""A service's ApplicationError that a view lets through is answered by the middleware in
apps.core.errors: its message, with the status of its kind, as a page or for htmx in the
message area. Never a 500."""

import pytest
from django.urls import path

from apps.core.errors import ERR_INVALID_TODO, ERR_REFUSED_TODO
from apps.core.exceptions import ApplicationError, Invalid, NotFound, Refused
from config.urls import urlpatterns as project_urlpatterns

RAISED = {
    "not-found": NotFound("No such questionnaire."),
    "refused": Refused("This complaint is closed already.", code="closed"),
    "invalid": Invalid(errors={"outcome": ["Choose an outcome."], None: ["Check the dates."]}),
    "other": ApplicationError("Something you did cannot be done."),
}


def refuse(request, kind):
    raise RAISED[kind]


urlpatterns = [path("refuse/<str:kind>/", refuse), *project_urlpatterns]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("not-found", 404, "No such questionnaire."),
        ("refused", 409, str(ERR_REFUSED_TODO)),
        ("invalid", 400, "Choose an outcome. Check the dates."),
        ("other", 400, "Something you did cannot be done."),
    ],
)
def test_an_application_error_is_a_page_with_its_status(client, kind, status, text):
    response = client.get(f"/refuse/{kind}/")
    assert response.status_code == status
    body = response.content.decode()
    assert "<html" in body and text in body


@pytest.mark.django_db
def test_for_htmx_it_is_the_message_only_in_the_message_area(client):
    response = client.get("/refuse/invalid/", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#messages"
    body = response.content.decode()
    assert "<html" not in body and str(ERR_INVALID_TODO) in body
