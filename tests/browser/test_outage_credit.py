"""A teacher's page left open through a server outage, in real Chromium: the credit given by
the sweep while the page is open shows when its timer reaches zero (the page asks the server
before it submits); without a credit it submits as before; and an answer queued before the
deadline while the server was failing is taken in grace when the page gets through."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.assessments import services
from apps.assessments.models import Answer, Attempt
from apps.core.models import ServiceInterval
from tests.browser.test_assessments import wait_for_answers

pytestmark = pytest.mark.django_db(transaction=True)


def web_up(start, end):
    ServiceInterval.objects.create(role="web", started_at=start, last_seen=end)


def deadline_in(page, attempt, seconds: float) -> None:
    """The attempt began 20 minutes ago and ends in `seconds`; the page shows that."""
    now = timezone.now()
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=now - timedelta(minutes=20), deadline=now + timedelta(seconds=seconds)
    )
    page.reload()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:0\d$"))


def test_a_page_open_through_an_outage_finds_the_credit_at_zero(page, demo_attempt):
    attempt = demo_attempt
    deadline_in(page, attempt, 4)
    expect(page.locator("#time-credit")).to_be_hidden()
    # Meanwhile the sweep credits an 8-minute outage the heartbeat recorded.
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=10))
    web_up(now - timedelta(minutes=2), now)
    assert services.outages_credit() == 1

    note = page.locator("#time-credit")
    expect(note).to_have_text("+8 min for a service interruption")
    # The note is not a live region: screen readers are told through the timer's announcer.
    expect(page.locator("#time-announcer")).to_have_text("+8 min for a service interruption")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^0[78]:\d\d$"))
    assert "/result/" not in page.url
    attempt.refresh_from_db()
    assert not attempt.is_submitted


def test_without_a_credit_the_page_submits_at_zero(page, demo_attempt):
    attempt = demo_attempt
    deadline_in(page, attempt, 3)
    expect(page).to_have_url(re.compile(r"/result/$"))
    attempt.refresh_from_db()
    assert attempt.is_submitted
    assert not attempt.adjustments.exists()


def test_an_answer_held_up_by_a_failing_server_is_taken_in_grace(page, context, demo_attempt):
    attempt = demo_attempt
    deadline_in(page, attempt, 8)
    # The server stops answering the page; its heartbeat stops too (the last beat 30 s ago).
    context.set_offline(True)
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(seconds=30))
    page.locator("#q-1 input[name=value][value='4']").check()
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "offline")
    time.sleep(10)  # past the deadline: the timer keeps asking the server, nothing submitted
    attempt.refresh_from_db()
    assert not attempt.is_submitted and attempt.deadline < timezone.now()

    context.set_offline(False)  # back: the answer goes out with its queued time
    wait_for_answers(attempt.pk, 1)
    answer = Answer.objects.get(attempt=attempt, answered=True)
    assert answer.value == 4 and answer.saved_at > attempt.deadline
    # Then the timer, told the time is up, submits: the grace answer is scored.
    expect(page).to_have_url(re.compile(r"/result/$"))
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.total_score > 0


def test_answers_resent_right_after_an_outage_wait_for_the_credit(page, context, demo_attempt):
    """The web nodes were down for 7 minutes; the worker submitted the attempt at its
    deadline meanwhile. The page's queued answer, sent again as soon as the page is back,
    is told to come again (503) until the credit re-opens the attempt: it stays queued, is
    saved then, and the page stays on the question with its new time."""
    attempt = demo_attempt
    deadline_in(page, attempt, 9)
    context.set_offline(True)
    page.locator("#q-1 input[name=value][value='4']").check()
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "offline")
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=7))
    web_up(now - timedelta(seconds=5), now)  # back 5 s ago, not yet credited
    Attempt.objects.filter(pk=attempt.pk).update(
        deadline=now - timedelta(minutes=3),
        status=Attempt.Status.SUBMITTED,
        auto_submitted=True,
        submitted_at=now - timedelta(minutes=3),
    )

    with page.expect_response(lambda r: "/answer/" in r.url and r.status == 503):
        context.set_offline(False)
    expect(page.locator("#pending-count")).to_have_attribute("data-count", "1")
    # The teacher is told why (once, by the question), not only "Saving…" at 00:00.
    why = page.locator("#q-1 [data-answer-message]")
    expect(why).to_contain_text("your lost time is being given back")
    assert not Answer.objects.filter(attempt=attempt).exists()

    assert services.outages_credit() == 1  # the first beat's credit: 7 minutes
    wait_for_answers(attempt.pk, 1)  # the page's next try
    expect(page.locator("#pending-count")).to_have_attribute("data-count", "0")
    expect(why).to_be_empty()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^0[34]:\d\d$"))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS
    assert Answer.objects.get(attempt=attempt).value == 4
    assert "/result/" not in page.url
