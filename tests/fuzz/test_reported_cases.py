"""The bad inputs the held-out tester reported as 500s (issue 12), each with DEBUG off and on:
now a 4xx with a message, and nothing written."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.assessments import services
from apps.assessments.models import Answer, Attempt
from apps.complaints.models import Complaint
from apps.core.admin import ERR_SELECTED_IDS
from apps.core.input import ERR_NEEDS_SLASH, ERR_NUL_IN_ADDRESS
from tests.accounts.factories import OfficerFactory, verified_login
from tests.complaints.conftest import filing_data
from tests.complaints.factories import ComplaintFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("\u00b2", services.ERR_NOT_A_NUMBER.format(field="number")),
        ("\uff11", services.ERR_NOT_A_NUMBER.format(field="number")),
        ("0", services.ERR_ATTEMPT_NUMBER.format(high=32767)),
        ("-1", services.ERR_ATTEMPT_NUMBER.format(high=32767)),
        ("9" * 25, services.ERR_NOT_A_NUMBER.format(field="number")),
        ("40000", services.ERR_ATTEMPT_NUMBER.format(high=32767)),
    ],
)
def test_start_with_a_bad_number(debug, teacher_client, quiz, number, message):
    response = teacher_client.post(reverse("assessments:start", args=[quiz.pk]), {"number": number})
    assert response.status_code == 400
    assert str(message) in response.content.decode()
    assert not Attempt.objects.exists()


def test_start_attempt_zero_while_one_exists(debug, teacher_client, quiz):
    url = reverse("assessments:start", args=[quiz.pk])
    teacher_client.post(url, {"number": "1"})
    response = teacher_client.post(url, {"number": "0"})
    assert response.status_code == 400
    assert Attempt.objects.count() == 1


@pytest.fixture
def attempt(teacher_client, quiz):
    teacher_client.post(reverse("assessments:start", args=[quiz.pk]), {"number": "1"})
    return Attempt.objects.get()


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("text", {"text": "Par\x00is"}, services.ERR_TEXT_NUL),
        ("likert", {"value": "\uff11"}, services.ERR_NOT_A_NUMBER.format(field="value")),
        ("likert", {"value": "\u0663"}, services.ERR_NOT_A_NUMBER.format(field="value")),
        ("single", {"choice": "\u00b2"}, services.ERR_NOT_A_NUMBER.format(field="choice")),
    ],
)
def test_answer_refused_with_a_message(debug, teacher_client, attempt, quiz, kind, data, message):
    url = reverse("assessments:answer", args=[attempt.pk, quiz.q[kind].pk])
    response = teacher_client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert str(message) in response.content.decode()
    assert not Answer.objects.exists()


def test_overlong_contact_email_is_refused_with_a_message(debug, client):
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org"  # 313 characters, valid shape
    assert 254 < len(email) <= 320
    response = client.post(reverse("complaints:file"), filing_data(contact_email=email))
    assert response.status_code == 400
    assert "at most 254 characters" in response.content.decode()
    assert filing_data()["description"] in response.content.decode()  # what was typed is kept
    assert not Complaint.objects.exists()


def test_an_arabic_indic_date_is_refused(debug, client):
    data = filing_data(incident_date="\u0662\u0660\u0662\u0666-\u0660\u0661-\u0661\u0665")
    response = client.post(reverse("complaints:file"), data)
    assert response.status_code == 400
    assert not Complaint.objects.exists()


@pytest.mark.parametrize("officer", ["abc", "-1", "9" * 25, "\uff11", "\u00b2"])
def test_officer_filter_ignores_a_value_it_does_not_offer(debug, client, officer):
    staff = OfficerFactory(is_superuser=True)
    mine = ComplaintFactory(assigned_to=staff)
    verified_login(client, staff)
    response = client.get(reverse("admin:complaints_complaint_changelist"), {"officer": officer})
    assert response.status_code == 200
    assert mine.reference in response.content.decode()  # ignored: the unfiltered list


def test_a_nul_in_the_query_string_is_refused(debug, client):
    response = client.get(reverse("complaints:status"), {"reference": "CP\x00"})
    assert response.status_code == 400
    assert str(ERR_NUL_IN_ADDRESS) in response.content.decode()


def _post_urls(resolver=None, prefix=""):
    """Every address of the site that ends with a slash, ids filled in, minus that slash."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _post_urls(pattern, route)
        elif isinstance(pattern, URLPattern) and route.endswith("/") and "(" not in route:
            yield "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route.lstrip("^")).rstrip("/")


# The admin answers its own addresses (its catch-all view: the login page, or a redirect
# for staff), never CommonMiddleware; a POST there without the slash is no 500 either (below).
POST_URLS = sorted(path for path in set(_post_urls()) if not path.startswith("/admin"))


def test_post_urls_cover_the_answer_endpoint():
    assert "/assessments/attempts/1/questions/1/answer" in POST_URLS


@pytest.mark.parametrize("path", POST_URLS)
def test_a_post_without_its_trailing_slash_is_a_404_naming_the_address(debug, client, path):
    response = client.post(path, {"text": "x"})
    assert response.status_code == 404
    assert str(ERR_NEEDS_SLASH % {"path": f"{path}/"}) == response.content.decode()


def test_an_admin_post_without_its_trailing_slash_is_no_500(debug, client):
    verified_login(client, OfficerFactory(is_superuser=True))
    response = client.post("/admin/complaints/complaint", {"action": "export_csv"})
    assert response.status_code < 500


@pytest.mark.parametrize("selected", ["abc", "", "\uff11", "9" * 25])
def test_an_admin_action_on_ids_that_are_no_rows_says_so(debug, client, selected):
    staff = OfficerFactory(is_superuser=True)
    verified_login(client, staff)
    url = reverse("admin:complaints_complaint_changelist")
    data = {"action": "assign_to_me", "_selected_action": selected, "index": "0"}
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert str(ERR_SELECTED_IDS) in response.content.decode()
