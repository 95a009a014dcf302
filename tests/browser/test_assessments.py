"""The demo questionnaire end to end in real Chromium: answers saved as they are given
(without reloading the page), kept over a reload, kept in the browser while offline and
replayed on reconnect, then submitted, with the category chart on the result page."""

import re
import time

import pytest
from playwright.sync_api import expect

from apps.assessments.models import Answer
from apps.assessments.services import SAVE_GRANT_HEADER, save_grant_read

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_answers(attempt_id: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while Answer.objects.filter(attempt_id=attempt_id, answered=True).count() != count:
        assert time.monotonic() < deadline, f"expected {count} saved answers"
        time.sleep(0.1)


def answer(page, position: int, value: int) -> None:
    section = page.locator(f"#q-{position}")
    expect(section).to_be_visible()
    section.locator(f"input[name=value][value='{value}']").check()


def test_take_the_demo_questionnaire(page, context, demo_attempt):
    attempt = demo_attempt

    # Answers are saved as they are given, without a page load, each with the page's save
    # grant (services/save_grants.py), good for this attempt and this browser's session.
    grants = []
    page.on(
        "request",
        lambda request: (
            request.method == "POST"
            and request.url.endswith("/answer/")
            and grants.append(request.headers.get(SAVE_GRANT_HEADER.lower(), ""))
        ),
    )
    page.evaluate("window.notReloaded = true")
    for position in (1, 2, 3):
        answer(page, position, 4)
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")
        page.locator(f"#q-{position} a[rel=next]").click()
    wait_for_answers(attempt.pk, 3)
    session_key = next(c["value"] for c in context.cookies() if c["name"] == "sessionid")
    assert len(grants) == 3
    assert all(
        save_grant_read(grant=grant, session_key=session_key, attempt_id=attempt.pk)
        for grant in grants
    )
    expect(page.locator("#save-status")).to_contain_text("3 of 32 answered")
    expect(page.locator(".map-cell.answered")).to_have_count(3)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(19|20):\d\d$"))

    # A reload keeps every answer; coming back later reopens at the last answer.
    page.reload()
    expect(page.locator("#q-4")).to_be_visible()
    for position in (1, 2, 3):
        expect(page.locator(f"#q-{position} input[value='4']")).to_be_checked()
    page.goto(f"/assessments/attempts/{attempt.pk}/")
    expect(page.locator("#q-3")).to_be_visible()
    expect(page.locator("#q-3 input[value='4']")).to_be_checked()

    # Offline: the answers stay in the browser, then go out on reconnect.
    page.locator("#q-3 a[rel=next]").click()
    page.evaluate("window.notReloaded = true")
    context.set_offline(True)
    answer(page, 4, 2)
    page.locator("#q-4 a[rel=next]").click()
    answer(page, 5, 5)
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "offline")
    pending = page.evaluate(f"JSON.parse(localStorage.getItem('crowdproof:pending:{attempt.pk}'))")
    assert len(pending) == 2
    assert Answer.objects.filter(attempt=attempt, answered=True).count() == 3
    context.set_offline(False)
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")
    wait_for_answers(attempt.pk, 5)
    assert Answer.objects.get(attempt=attempt, question__position=4).value == 2
    assert page.evaluate("window.notReloaded") is True

    # Review, submit, and the category chart.
    page.get_by_role("link", name="Review and submit").click()
    expect(page.locator("#review-list")).to_contain_text("27 questions unanswered")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page).to_have_url(re.compile(r"/result/$"))
    chart = page.locator("svg.bar-chart")
    expect(chart.locator("rect.bar")).to_have_count(5)
    for category in ("Vision", "Effort", "Systems", "Practice", "Attitude"):
        expect(chart).to_contain_text(category)
    attempt.refresh_from_db()
    assert attempt.is_submitted and not attempt.auto_submitted
