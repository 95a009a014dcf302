"""In real Chromium, what a screen reader user meets on the status page: the status line is a
polite live region that stays in the page while htmx replaces the panel under it (a poll, a
follow-up), so a new status is read out; after sending a follow-up the keyboard focus goes to
its answer (the confirmation, the list of what to correct, or the refusal), not to the top of
the page with the button that was swapped away. axe finds nothing serious on the way."""

import django_rq
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.complaints.models import Complaint
from apps.complaints.services import complaint_file
from tests.browser.axe import assert_accessible
from tests.complaints.conftest import GOOD_DESCRIPTION

pytestmark = pytest.mark.django_db(transaction=True)
ADDED = "He called me again yesterday and asked for Rs 10,000 this time."


def assert_accessible_settled(page, where: str) -> None:
    """Once the "Sending…" indicator has faded out (mid-fade its contrast is no measure)."""
    for indicator in page.locator("#status-panel .htmx-indicator").all():
        expect(indicator).to_have_css("opacity", "0")
    assert_accessible(page, where)


def test_a_new_status_is_announced_and_a_follow_up_answer_takes_the_focus(
    page,
    live_settings,
):
    filed = complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
    page.goto("/complaints/status/")
    page.fill("#id_reference", filed.complaint.reference)
    page.fill("#id_receipt", filed.receipt)
    page.get_by_role("button", name="Show status").click()
    now = page.locator("#status-now")
    expect(now.locator(".triage-state")).to_have_text("We are classifying your complaint…")
    expect(now).to_have_attribute("aria-live", "polite")
    region = page.query_selector("#status-now")

    # Triage finishes: the panel's poll brings the new status into the same live region.
    django_rq.get_worker("high").work(burst=True)
    expect(now.locator(".category")).to_have_text("Bribery")
    expect(page.locator("#status-panel")).not_to_have_attribute("data-polling", "true")
    assert region.evaluate("region => region.isConnected")  # not replaced: it is read out
    assert page.locator("#status-panel [aria-live]").count() == 0  # nothing read twice
    assert_accessible(page, "status page after triage")

    # A refused follow-up: the focus goes to the list of what to correct.
    page.get_by_role("button", name="Add to my complaint").click()
    summary = page.locator("#status-panel .error-summary")
    expect(summary).to_contain_text("Write what you want to add, or attach a file.")
    expect(summary).to_be_focused()
    assert_accessible_settled(page, "follow-up refused")

    # One that goes through: to the confirmation; the region says the complaint's new status.
    Complaint.objects.filter(pk=filed.complaint.pk).update(
        status="closed", outcome="unsubstantiated", closed_at=timezone.now()
    )
    page.locator("#status-panel textarea").fill(ADDED)
    page.get_by_role("button", name="Add to my complaint").click()
    confirmation = page.locator("#status-panel .message.success")
    expect(confirmation).to_be_focused()
    expect(now.locator(".public-status")).to_have_text("Received")
    assert region.evaluate("region => region.isConnected")
    assert_accessible_settled(page, "follow-up added")

    # The complaint cannot take any more (purged meanwhile): the focus goes to why.
    Complaint.objects.filter(pk=filed.complaint.pk).update(purged_at=timezone.now())
    page.locator("#status-panel textarea").fill(ADDED)
    page.get_by_role("button", name="Add to my complaint").click()
    refusal = page.locator("#status-panel .message.error")
    expect(refusal).to_contain_text("cannot take new information")
    expect(refusal).to_be_focused()
    assert_accessible_settled(page, "follow-up refused, purged")


def test_without_javascript_the_answer_takes_the_focus_too(
    browser,
    live_server,
    live_settings,
):
    """A plain form post loads a new page: the browser focuses its [autofocus] answer."""
    filed = complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/complaints/status/")
        page.fill("#id_reference", filed.complaint.reference)
        page.fill("#id_receipt", filed.receipt)
        page.get_by_role("button", name="Show status").click()
        expect(page.locator("#status-now h2")).to_have_text(filed.complaint.reference)
        page.get_by_role("button", name="Add to my complaint").click()
        expect(page.locator(".error-summary")).to_be_focused()
        page.locator("#status-panel textarea").fill(ADDED)
        page.get_by_role("button", name="Add to my complaint").click()
        expect(page.locator(".message.success")).to_be_focused()
    finally:
        context.close()


def test_downloading_the_receipt_counts_as_keeping_it(page, live_settings):
    """The confirmation asks to tick "I have saved my receipt" or to download it: after the
    download the box is ticked, and leaving asks nothing."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.goto("/complaints/")
    page.fill("#id_description", GOOD_DESCRIPTION)
    page.check("#id_anonymous")
    page.get_by_role("button", name="Send complaint").click()
    expect(page.locator("#filed .receipt")).to_be_visible()
    with page.expect_download():
        page.get_by_role("button", name="Download receipt as a text file").click()
    expect(page.locator("#receipt-kept")).to_be_checked()
    page.locator("header").get_by_role("link", name="File a complaint").click()
    expect(page.locator("#id_description")).to_be_visible()  # left, without a question
    assert dialogs == []
