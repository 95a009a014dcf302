"""Duplicates in real Chromium: an officer sees the similar complaints on a complaint's change
page and marks it as a duplicate with the button next to one (a button inside the change form
that posts the separate merge form), then another by typing the primary's reference and
pressing Enter (which must send the merge form, not save the change form); the reporter of a
duplicate reads on the status page which reference the case carries on under."""

import pytest
from playwright.sync_api import expect

from apps.complaints.models import Complaint
from apps.complaints.services import complaint_file
from tests.browser.officers import officer_log_in

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = (
    "The clerk at the Haveli tehsil office in Pune demanded a bribe of Rs 5,000 to update my "
    "land record and said the mutation would take months otherwise."
)
SECOND = (
    "The clerk at the Haveli tehsil office in Pune asked me for a bribe of Rs 5000 to update "
    "the land record, saying the mutation would otherwise take months."
)
THIRD = "Haveli tehsil office, Pune: the clerk wants Rs 5,000 before he updates land records."


def file(description):
    return complaint_file(description=description, incident_place="Pune", anonymous=True)


def test_an_officer_merges_duplicates_and_the_reporter_is_told(page, live_settings):
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    primary = file(FIRST).complaint
    second = file(SECOND)
    third = file(THIRD).complaint

    officer_log_in(page, "Officers", "ravi")
    page.get_by_role("link", name=second.complaint.reference).click()
    panel = page.locator("#duplicates")
    expect(panel).to_contain_text("Similar complaints")
    expect(panel.locator("table.similar-complaints")).to_contain_text(primary.reference)
    panel.get_by_role(
        "button", name=f"Mark this complaint as a duplicate of {primary.reference}"
    ).click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"{second.complaint.reference} is now a duplicate of {primary.reference}"
    )
    expect(page.locator("#duplicates .duplicate-list")).to_contain_text(second.complaint.reference)

    page.goto(f"/admin/complaints/complaint/{third.pk}/change/")
    page.fill("#merge-form input[name=primary]", primary.reference)
    page.press("#merge-form input[name=primary]", "Enter")
    expect(page.locator(".messagelist")).to_contain_text(
        f"{third.reference} is now a duplicate of {primary.reference}"
    )
    assert set(Complaint.objects.get(pk=primary.pk).duplicates.all()) == {second.complaint, third}

    page.goto("/complaints/status/")
    page.fill("#id_reference", second.complaint.reference)
    page.fill("#id_receipt", second.receipt)
    page.get_by_role("button", name="Show status").click()
    expect(page.locator("#status-panel .carries-on")).to_contain_text(
        f"the case carries on under {primary.reference}"
    )
    expect(page.locator("#status-panel")).not_to_contain_text("Rs 5,000")
    assert blocked == []
