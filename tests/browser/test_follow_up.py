"""In real Chromium: the confirmation page keeps the complainant from leaving before they have
saved the receipt (the box the browser requires, a warning on leaving, the text file), then
the complainant adds information and a file on the status page, which reopens the closed
complaint for its officer; what they type survives the panel's polling."""

import django_rq
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from apps.complaints.models import Complaint
from tests.accounts.factories import OfficerFactory
from tests.complaints.conftest import GOOD_DESCRIPTION, PNG

pytestmark = pytest.mark.django_db(transaction=True)
ADDED = "He called me again yesterday and asked for Rs 10,000 this time."


def test_keep_the_receipt_then_follow_up_a_closed_complaint(page, live_settings):
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto("/complaints/")
    page.fill("#id_description", GOOD_DESCRIPTION)
    page.check("#id_anonymous")
    page.get_by_role("button", name="Send complaint").click()
    receipt = page.locator("#filed .receipt")
    expect(receipt).to_be_visible()
    complaint = Complaint.objects.get()

    # Not before the box is ticked: the browser itself refuses (no script needed for that).
    follow = page.get_by_role("button", name="Follow this complaint")
    follow.click()
    expect(page.locator("#filed")).to_be_visible()
    assert page.eval_on_selector("#receipt-kept", "box => box.validity.valueMissing")
    # Leaving by a link asks first; dismissed, the page stays.
    page.locator("header").get_by_role("link", name="File a complaint").click()
    expect(page.locator("#filed")).to_be_visible()
    assert dialogs == ["beforeunload"]

    # The receipt as a text file, without a warning: downloading is not leaving.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download receipt as a text file").click()
    assert download.value.suggested_filename == f"{complaint.reference}-receipt.txt"
    with open(download.value.path(), encoding="utf-8") as saved:
        text = saved.read()
    assert f"Receipt: {receipt.inner_text()}" in text and complaint.reference in text
    assert dialogs == ["beforeunload"]

    page.check("#receipt-kept")
    follow.click()
    panel, now = page.locator("#status-panel"), page.locator("#status-now")
    expect(now).to_contain_text(complaint.reference)
    expect(panel).to_have_attribute("data-polling", "true")

    # Typed and chosen while the panel polls: still there after triage changes the panel.
    page.fill("#follow-up-0-text", ADDED)
    page.set_input_files(
        "#follow-up-0-attachments",
        files=[{"name": "call-log.png", "mimeType": "image/png", "buffer": PNG}],
    )
    django_rq.get_worker("high").work(burst=True)
    expect(now.locator(".category")).to_have_text("Bribery")
    expect(page.locator("#follow-up-0-text")).to_have_value(ADDED)
    assert page.eval_on_selector("#follow-up-0-attachments", "input => input.files.length") == 1

    # Meanwhile the officer closed it; the follow-up puts it back in front of him.
    officer = OfficerFactory(username="ravi")
    officer.groups.add(Group.objects.get(name="Officers"))
    Complaint.objects.filter(pk=complaint.pk).update(
        status="closed", outcome="unsubstantiated", closed_at=timezone.now(), assigned_to=officer
    )
    page.get_by_role("button", name="Add to my complaint").click()
    expect(panel.locator(".message.success")).to_contain_text("your information was added")
    expect(now.locator(".public-status")).to_have_text("Assigned to an officer")
    expect(panel.locator(".follow-up-sent")).to_contain_text(ADDED)
    expect(page.locator("#follow-up-1-text")).to_have_value("")  # ready for the next one
    complaint.refresh_from_db()
    assert (complaint.status, complaint.assigned_to) == ("assigned", officer)
    assert complaint.new_info_at is not None
    assert complaint.messages.get().body == ADDED
    assert complaint.attachments.get().original_name == "call-log.png"
    assert blocked == []
