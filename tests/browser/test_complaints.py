"""A complaint end to end in real Chromium: filed with an attachment, followed on the status
page while the rule backend triages it (a burst worker run from the test), then an officer
filters, assigns and closes it in the admin."""

import django_rq
import pytest
from playwright.sync_api import expect

from apps.complaints.models import Complaint
from apps.sync.models import OutboxEvent
from tests.browser.officers import officer_log_in
from tests.complaints.conftest import GOOD_DESCRIPTION, PNG

pytestmark = pytest.mark.django_db(transaction=True)


def test_file_follow_and_close_a_complaint(page, live_settings):
    queue = live_settings
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    page.goto("/complaints/")
    # Inline validation as the complainant leaves the field.
    page.fill("#id_description", "Too short.")
    page.locator("#id_incident_place").click()
    expect(page.locator("#errors-description")).to_contain_text("at least 30 characters")
    page.fill("#id_incident_place", "Haveli tehsil office, Pune")
    page.fill("#id_contact_name", "Asha Patil")
    page.fill("#id_contact_email", "asha@example.org")
    page.set_input_files(
        "#id_attachments", files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}]
    )
    # Sent anyway: the errors come back, and nothing typed or chosen is lost.
    page.get_by_role("button", name="Send complaint").click()
    expect(page.locator("#errors-description")).to_contain_text("at least 30 characters")
    expect(page.locator("#id_contact_name")).to_have_value("Asha Patil")
    assert page.eval_on_selector("#id_attachments", "input => input.files.length") == 1
    assert not Complaint.objects.exists()
    page.fill("#id_description", GOOD_DESCRIPTION)
    page.locator("#id_incident_place").click()
    expect(page.locator("#errors-description")).to_be_empty()
    page.get_by_role("button", name="Send complaint").click()

    reference = page.locator("#filed .reference")
    expect(reference).to_be_visible()
    expect(page.locator("#filed .receipt")).to_be_visible()
    complaint = Complaint.objects.get()
    expect(reference).to_have_text(complaint.reference)
    assert complaint.attachments.get().original_name == "receipt.png"

    # The status page polls while triage runs, then shows the result and stops polling.
    page.check("#receipt-kept")  # "I have saved my receipt": required before leaving
    page.get_by_role("button", name="Follow this complaint").click()
    panel, now = page.locator("#status-panel"), page.locator("#status-now")
    expect(now).to_contain_text(complaint.reference)
    expect(panel).to_have_attribute("data-polling", "true")
    assert queue.count == 1
    django_rq.get_worker("high").work(burst=True)
    expect(now.locator(".category")).to_have_text("Bribery")
    expect(now.locator(".public-status")).to_have_text("Under review")
    expect(panel).not_to_have_attribute("data-polling", "true")

    # An officer logs into the admin, filters, assigns the complaint to himself and closes it.
    officer = officer_log_in(page, "Officers", "ravi")  # with the two-factor code
    page.locator("#changelist-filter").get_by_role("link", name="Triaged").click()
    expect(page.locator("#result_list")).to_contain_text(complaint.reference)
    page.locator(f"input[name=_selected_action][value='{complaint.pk}']").check()
    page.select_option("select[name=action]", "assign_to_me")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("1 complaint(s) assigned to you.")

    # Assigned now, so no longer under "Triaged": find it under the officer's own cases.
    page.goto("/admin/complaints/complaint/")
    page.locator("#changelist-filter").get_by_role("link", name="ravi").click()
    page.get_by_role("link", name=complaint.reference).click()
    page.select_option("#id_status", "closed")
    page.select_option("#id_outcome", "substantiated")
    page.fill("#id_reply", "The clerk was suspended. Thank you.")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    complaint.refresh_from_db()
    assert (complaint.status, complaint.outcome, complaint.assigned_to) == (
        "closed",
        "substantiated",
        officer,
    )
    assert OutboxEvent.objects.get().aggregate_key == f"complaint:{complaint.reference}"
    assert blocked == []  # nothing the strict CSP had to block, public pages and admin alike
