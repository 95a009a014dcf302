import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.complaints.models import Category, TriageJob
from apps.complaints.selectors import dashboard_stats
from apps.complaints.services import complaint_assign
from tests.accounts.factories import TEST_PASSWORD, TeacherFactory, verified_login
from tests.complaints.factories import ComplaintFactory, TriageJobFactory

pytestmark = pytest.mark.django_db
URL = reverse("complaints:dashboard")


@pytest.fixture
def complaints(reference_data):
    bribery = Category.objects.get(code="bribery")
    made = [
        TriageJobFactory(complaint=ComplaintFactory(category=bribery), state="done").complaint
        for _ in range(3)
    ]
    TriageJobFactory(state=TriageJob.State.FAILED)
    TriageJobFactory(state=TriageJob.State.QUEUED)
    return made


def complaint_queries(queries):
    return [q["sql"] for q in queries.captured_queries if "complaints_complaint" in q["sql"]]


def test_only_officers_see_the_dashboard(client):
    assert client.get(URL).status_code == 302
    teacher = TeacherFactory()
    client.login(username=teacher.username, password=TEST_PASSWORD)
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("htmx", [False, True])
def test_the_dashboard_shows_figures_and_charts(client, officer, complaints, htmx):
    verified_login(client, officer)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(URL, **headers)
    assert response.status_code == 200
    body = response.content.decode()
    assert ("<html" in body) is not htmx
    assert 'id="dashboard-body"' in body
    assert '<dd class="total">5</dd>' in body
    assert '<dd class="backlog">1</dd>' in body
    assert '<dd class="failure-rate">25.0%</dd>' in body
    assert 'aria-label="By category"' in body and "Bribery" in body
    assert 'aria-label="Complaints per day"' in body
    longer = client.get(URL + "?days=90", **headers).content.decode()
    assert 'aria-label="Complaints per week"' in longer
    assert response["Vary"].count("HX-Request") == 1


def test_the_filter_form_renders_once_per_query_string(client, officer, complaints):
    verified_login(client, officer)
    select = "django/forms/widgets/select.html"
    first = client.get(URL + "?days=30&category=bribery")
    assert select in [t.name for t in first.templates]
    again = client.get(URL + "?days=30&category=bribery")
    assert select not in [t.name for t in again.templates]
    assert again.content.decode().count('value="bribery" selected') == 1
    other = client.get(URL + "?days=90")
    assert select in [t.name for t in other.templates]
    assert 'value="bribery" selected' not in other.content.decode()
    # A bad filter renders too (with its message), from the same cache rules.
    assert client.get(URL + "?days=7000").status_code == 400


def test_filters_apply_and_are_cached_per_filter_until_a_write(
    client, officer, complaints, django_capture_on_commit_callbacks
):
    verified_login(client, officer)
    query = "?days=30&category=bribery"
    first = client.get(URL + query, HTTP_HX_REQUEST="true")
    assert '<dd class="total">3</dd>' in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(URL + query, HTTP_HX_REQUEST="true")
    assert complaint_queries(queries) == []  # served from the cache
    assert again.content == first.content
    # The charts were rendered once, for the first request only.
    charts = "core/bar_chart.html"
    assert charts in [t.name for t in first.templates]
    assert charts not in [t.name for t in again.templates]
    # Another filter is another cache entry.
    everything = client.get(URL + "?days=30", HTTP_HX_REQUEST="true").content.decode()
    assert '<dd class="total">5</dd>' in everything
    # A write bumps the version: the next read recomputes.
    ComplaintFactory(category=Category.objects.get(code="bribery"))
    assert (
        '<dd class="total">3</dd>'
        in client.get(URL + query, HTTP_HX_REQUEST="true").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        complaint_assign(complaint_ids=[complaints[0].pk], officer=officer, by=officer)
    with CaptureQueriesContext(connection) as queries:
        fresh = client.get(URL + query, HTTP_HX_REQUEST="true").content.decode()
    assert complaint_queries(queries)
    assert '<dd class="total">4</dd>' in fresh


def test_a_bad_filter_is_a_400_with_a_message(client, officer):
    verified_login(client, officer)
    response = client.get(URL + "?days=7&category=nope", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize(("query", "selected"), [("", "30"), ("?days=", "30"), ("?days=90", "90")])
def test_the_period_select_shows_the_period_the_figures_are_for(client, officer, query, selected):
    verified_login(client, officer)
    page = client.get(URL + query).content.decode()
    period = re.search(r'<select name="days".*?</select>', page, re.S).group()
    assert re.findall(r'<option value="(\d+)" selected>', period) == [selected]


@pytest.mark.parametrize(("days", "bars"), [(7, {8}), (30, {31}), (365, {53, 54})])
def test_every_day_or_week_of_the_period_has_a_bar(reference_data, days, bars):
    ComplaintFactory(received_at=timezone.now() - timedelta(days=3))
    ComplaintFactory()
    filters = {"days": days, "category": "", "sector": "", "status": ""}
    per_day = dashboard_stats(filters=filters)["per_day"]
    assert len(per_day) in bars  # both ends included; a year is 53 or 54 Monday-weeks
    assert sum(n for _, n in per_day) == 2
    assert 1 <= sum(1 for _, n in per_day if n) <= 2
