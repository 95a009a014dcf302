"""The identity vault in real Chromium: a supervisor reveals a complainant's contact details
from the change page (two clicks, audited); an officer without the permission is told why and
never sees them."""

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from apps.complaints.models import ComplaintEvent
from apps.complaints.reference import groups_sync, reference_data_load
from apps.complaints.services import ERR_REVEAL_NOT_ALLOWED, complaint_file
from tests.accounts.factories import TEST_PASSWORD, OfficerFactory, totp_code
from tests.complaints.conftest import GOOD_DESCRIPTION

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_settings(settings, tmp_path):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP live server
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    reference_data_load()  # a transactional test's flush removed the migration's data
    groups_sync()


def log_in(page, group: str, username: str) -> None:
    user = OfficerFactory(username=username)
    user.groups.add(Group.objects.get(name=group))
    device = TOTPDevice.objects.create(user=user, name="authenticator")  # enrolled before
    page.goto("/admin/login/?next=/admin/complaints/complaint/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("input[type=submit]").click()
    page.fill("#id_code", totp_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#result_list")).to_be_visible()


def test_a_supervisor_reveals_an_officer_cannot(page, live_settings, browser):
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    complaint = complaint_file(
        description=GOOD_DESCRIPTION, contact_name="Asha Patil", contact_email="asha@example.org"
    ).complaint

    log_in(page, "Supervisors", "meera")
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
    log_in(other, "Officers", "ravi")
    other.get_by_role("link", name=complaint.reference).click()
    expect(other.locator("body")).to_contain_text(str(ERR_REVEAL_NOT_ALLOWED))
    expect(other.get_by_role("link", name="Reveal contact details")).to_have_count(0)
    other.close()
    assert ComplaintEvent.objects.filter(action="contact_revealed").count() == 1
    assert blocked == []
