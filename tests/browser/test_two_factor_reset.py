"""In real Chromium: an officer lost the phone whose browser is still signed in to the admin.
A superuser resets the officer's two-factor login; that browser is signed out at its next
page, and enrolling a new authenticator takes the password again (the finder of the phone has
none)."""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from apps.accounts import services
from apps.complaints.reference import groups_sync
from tests.accounts.factories import TEST_PASSWORD, OfficerFactory, UserFactory
from tests.browser.test_two_factor import admin_login, app_code

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_lost_phones_session_ends_with_the_reset(page, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server
    groups_sync()  # a transactional test's flush removed the migration's groups
    officer = OfficerFactory(username="ravi")
    officer.groups.add(Group.objects.get(name="Officers"))
    admin_login(page)  # the phone's browser: enrolled and signed in
    page.fill("#id_code", app_code(page.locator("#totp-secret").inner_text()))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    services.two_factor_reset(user=officer, by=UserFactory(is_staff=True, is_superuser=True))
    page.goto("/admin/complaints/complaint/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.goto("/accounts/two-factor/enrol/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("#totp-secret")).to_have_count(0)

    # The officer, with the password, enrols the new phone.
    page.fill("#id_username", "ravi")
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#totp-secret")).to_be_visible()
