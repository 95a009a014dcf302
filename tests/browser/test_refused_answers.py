"""The browser's queue of unsent answers when the server refuses one as invalid: that answer
leaves the queue and its question says why, and the answers queued after it are still saved
(before, a refused answer was sent again forever at the head of the queue)."""

import json

import pytest
from playwright.sync_api import expect

from apps.assessments import services
from apps.assessments.models import Answer
from tests.browser.test_assessments import wait_for_answers

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_answer_is_dropped_and_reported_and_later_answers_go_on(page, demo_attempt):
    attempt = demo_attempt
    first, second = (
        page.locator(f"#q-{position} form").get_attribute("action") for position in (1, 2)
    )

    # A queue left by an earlier visit: a fullwidth three, U+FF13 (refused: ASCII digits
    # only), then a good answer behind it.
    queue = [
        {"id": "1", "url": page.url.split("/assessments/")[0] + first, "body": "value=%EF%BC%93"},
        {"id": "2", "url": page.url.split("/assessments/")[0] + second, "body": "value=4"},
    ]
    page.evaluate(
        "([key, queue]) => localStorage.setItem(key, queue)",
        [f"crowdproof:pending:{attempt.pk}", json.dumps(queue)],
    )
    page.reload()

    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")
    wait_for_answers(attempt.pk, 1)
    assert Answer.objects.get(attempt=attempt, answered=True).question.position == 2
    pending = page.evaluate(f"localStorage.getItem('crowdproof:pending:{attempt.pk}')")
    assert json.loads(pending) == []
    message = page.locator("#q-1 [data-answer-message] [role=alert]")
    expect(message).to_have_text(services.ERR_NOT_A_NUMBER.format(field="value"))

    # Answering the question properly saves it and clears the message.
    page.locator("#q-1 input[name=value][value='3']").check()
    wait_for_answers(attempt.pk, 2)
    expect(message).to_have_count(0)
