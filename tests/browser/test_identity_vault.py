"""The identity vault in real Chromium: a supervisor reveals a complainant's contact details
from the change page (two clicks, audited); an officer without the permission is told why and
never sees them."""

import pytest
from playwright.sync_api import expect

from apps.complaints.models import ComplaintEvent
from apps.complaints.services import ERR_REVEAL_NOT_ALLOWED, complaint_file
from tests.browser.officers import officer_log_in
from tests.complaints.conftest import GOOD_DESCRIPTION

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_supervisor_reveals_an_officer_cannot(page, live_settings, browser):
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    complaint = complaint_file(
        description=GOOD_DESCRIPTION, contact_name="Asha Patil", contact_email="asha@example.org"
    ).complaint

    officer_log_in(page, "Supervisors", "meera")
    page.get_by_role("link", name=complaint.reference).click()
    expect(page.locator("body")).not_to_contain_text("asha@example.org")
    page.get_by_role("link", name="Reveal contact details").click()
    expect(page.locator("#content-main")).to_contain_text("audit trail")
    expect(page.locator("#content-main")).not_to_contain_text("asha@example.org")
    page.get_by_role("button", name="Reveal contact details").click()
    expect(page.locator("#content-main dl")).to_contain_text("Asha Patil")
    expect(page.locator("#content-main dl")).to_contain_text("asha@example.org")
    event = ComplaintEvent.objects.get(complaint=complaint, action="contact_revealed")
    assert event.actor.username == "meera"
    page.get_by_role("link", name="Back to the complaint").click()
    expect(page.locator("body")).to_contain_text("Contact details revealed")  # audit trail

    other = browser.new_page(base_url=page.url.split("/admin/")[0])
    officer_log_in(other, "Officers", "ravi")
    other.get_by_role("link", name=complaint.reference).click()
    expect(other.locator("body")).to_contain_text(str(ERR_REVEAL_NOT_ALLOWED))
    expect(other.get_by_role("link", name="Reveal contact details")).to_have_count(0)
    other.close()
    assert ComplaintEvent.objects.filter(action="contact_revealed").count() == 1
    assert blocked == []
