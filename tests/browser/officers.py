"""Signing an officer into the admin in the browser, two-factor code included."""

from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.accounts.factories import TEST_PASSWORD, OfficerFactory, totp_code


def officer_log_in(page, group: str, username: str):
    """A new officer in `group`, enrolled in two-factor before, signed in through the admin's
    login and code pages onto the complaints list. Returns the officer."""
    user = OfficerFactory(username=username)
    user.groups.add(Group.objects.get(name=group))
    device = TOTPDevice.objects.create(user=user, name="authenticator")
    page.goto("/admin/login/?next=/admin/complaints/complaint/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("input[type=submit]").click()
    page.fill("#id_code", totp_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#result_list")).to_be_visible()
    return user
