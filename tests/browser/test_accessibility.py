"""WCAG 2.1 AA with axe-core on every page a teacher or the public sees, as they see it: under
the real CSP, after the scripts ran, in the states they meet (each question kind, a refused
form, a status page with a complaint on it). 0 serious or critical violations."""

import re

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import TEST_PASSWORD
from tests.assessments.conftest import questionnaire, quiz, teacher  # noqa: F401 (fixtures)
from tests.browser.axe import assert_accessible
from tests.complaints.conftest import GOOD_DESCRIPTION

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def csp_watch(page):
    """Messages of anything the page's CSP blocked (axe itself must not need an exception)."""
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    return blocked


def test_teacher_pages_are_accessible(page, settings, teacher, quiz, csp_watch):  # noqa: F811
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server
    page.goto("/accounts/login/?next=/assessments/")
    assert_accessible(page, "login")
    page.fill("#id_username", teacher.username)
    page.fill("#id_password", "not the password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main [role=alert]")).to_be_visible()
    assert_accessible(page, "login, refused")
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()

    expect(page.locator(f"[data-assessment='{quiz.pk}']")).to_be_visible()
    assert_accessible(page, "dashboard")
    page.locator(f"[data-assessment='{quiz.pk}'] button").click()
    expect(page).to_have_url(re.compile(r"/assessments/attempts/\d+/"))
    for position, kind in enumerate(("single", "multiple", "likert", "text"), start=1):
        page.goto(f"{page.url.split('?')[0]}?q={position}")
        expect(page.locator(f"#q-{position}")).to_be_visible()
        assert_accessible(page, f"take, {kind} question")
    page.locator("#q-4 textarea").fill("Paris")
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")

    page.get_by_role("link", name="Review and submit").click()
    expect(page.locator("#review-list")).to_be_visible()
    assert_accessible(page, "review")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.locator("#total-score")).to_be_visible()
    assert_accessible(page, "result")

    page.goto("/assessments/")
    expect(page.locator("main")).to_contain_text(quiz.title)
    assert_accessible(page, "dashboard with a finished attempt")
    assert csp_watch == []


def test_a_questionnaire_result_with_its_chart_is_accessible(
    page,
    settings,
    teacher,  # noqa: F811
    questionnaire,  # noqa: F811
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server
    page.goto("/accounts/login/?next=/assessments/")
    page.fill("#id_username", teacher.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.locator(f"[data-assessment='{questionnaire.pk}'] button").click()
    page.locator("#q-1 input[name=value][value='4']").check()
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Submit my answers").click()
    chart = page.locator("figure.chart")
    expect(chart.locator("svg[role=img]")).to_have_accessible_name("Your profile (1-10)")
    expect(chart.locator("li")).to_have_text(["Calm: 5", "Grit: 0"])  # the values, as text
    assert_accessible(page, "result with the category chart")


def test_public_complaint_pages_are_accessible(page, live_settings, csp_watch):
    page.goto("/")
    assert_accessible(page, "home")
    page.goto("/no-such-page/")
    assert_accessible(page, "not found")
    page.goto("/complaints/")
    assert_accessible(page, "complaint form")
    page.fill("#id_description", "Too short.")
    page.get_by_role("button", name="Send complaint").click()
    expect(page.locator("#errors-description")).to_contain_text("at least 30 characters")
    assert_accessible(page, "complaint form with errors")
    page.fill("#id_description", GOOD_DESCRIPTION)
    page.fill("#id_incident_place", "Haveli tehsil office, Pune")
    page.check("#id_anonymous")
    page.get_by_role("button", name="Send complaint").click()
    expect(page.locator("#filed .reference")).to_be_visible()
    expect(page.locator("#filed h2")).to_be_focused()  # not lost with the form it replaced
    assert_accessible(page, "complaint received")

    reference = page.locator("#filed .reference").inner_text()
    receipt = page.locator("#filed .receipt").inner_text()

    page.goto("/complaints/status/")
    assert_accessible(page, "status form")
    page.fill("#id_reference", reference)
    page.fill("#id_receipt", receipt)
    page.get_by_role("button", name="Show status").click()
    expect(page.locator("#status-now h2")).to_have_text(reference)
    assert_accessible(page, "status page with the complaint")
    page.fill("#id_reference", "CP-2026-000999")
    page.fill("#id_receipt", "wrong")
    page.get_by_role("button", name="Show status").click()
    expect(page.locator("#status-panel [role=alert]")).to_be_visible()
    assert_accessible(page, "status page, not found")
    assert csp_watch == []


def test_the_helper_reports_a_violation(page, live_server):
    """The check can fail: a page with an unlabelled field and a nameless button."""
    from tests.browser.axe import axe_violations

    page.set_content('<html><body><input type="text"><button></button></body></html>')
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"label", "button-name"} <= found, found
