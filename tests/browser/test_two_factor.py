"""Two-factor login in real Chromium: an officer's first login enrols (the secret read from
the page and the code computed from it, as an authenticator app would), shows the recovery
codes once, reaches the admin; after logging out, the next login asks for a code."""

import re
import time
from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from apps.complaints.reference import groups_sync
from tests.accounts.factories import TEST_PASSWORD, OfficerFactory
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def officer(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server
    groups_sync()  # a transactional test's flush removed the migration's groups
    user = OfficerFactory(username="ravi")
    user.groups.add(Group.objects.get(name="Officers"))
    return user


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """The authenticator app: the key typed out on the page, 30-second steps, 6 digits."""
    key = b32decode(secret.replace(" ", ""))
    return f"{totp(key, 30, -30 * steps_ahead, 6):06d}"


def next_code(secret: str, device: TOTPDevice) -> str:
    """A code the device accepts now: after the step enrolment used (a code is good once),
    and inside its window, which enrolment moved by a step (django-otp's drift) when the
    clock turned a 30 s step between the code typed and its check."""
    step_now = int(time.time()) // device.step
    return app_code(secret, max(device.last_t + 1, step_now + device.drift) - step_now)


def admin_login(page) -> None:
    page.goto("/admin/")
    page.fill("#id_username", "ravi")
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("input[type=submit]").click()


def test_an_officer_enrols_then_logs_in_with_a_code(page, officer):
    blocked = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text)
    )
    admin_login(page)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/enrol/\?next=%2Fadmin%2F$"))
    expect(page.locator(".qr-code svg")).to_be_visible()
    assert_accessible(page, "enrolment")
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", app_code(secret))
    page.get_by_role("button", name="Confirm").click()

    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(set(codes)) == 10
    assert_accessible(page, "recovery codes")
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_contain_text("ravi")

    page.locator("#logout-form button").click()
    admin_login(page)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next=%2Fadmin%2F$"))
    expect(page.locator("#totp-secret")).to_have_count(0)  # the key is never shown again
    accepted = {app_code(secret, steps) for steps in range(-2, 3)}
    page.fill("#id_code", next(c for c in ("000000", "111111", "222222") if c not in accepted))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#code-errors")).to_contain_text("That code is not right")
    assert_accessible(page, "code page with an error")
    # As if the second of back-off after a wrong code had passed.
    TOTPDevice.objects.filter(user=officer).update(throttling_failure_timestamp=None)
    page.fill("#id_code", next_code(secret, TOTPDevice.objects.get(user=officer)))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_contain_text("ravi")
    assert blocked == []  # the inline QR code needs nothing the strict CSP blocks
