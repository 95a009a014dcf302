"""Officers' two-factor login (apps/accounts/two_factor.py, services, views, the admin site):
enrolment on first login, a code at every login, recovery codes used once, throttling, the
superuser's reset; teachers never see any of it."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services
from apps.accounts.demo import DEMO_PASSWORD
from apps.accounts.two_factor import two_factor_required
from tests.accounts.factories import (
    TEST_PASSWORD,
    OfficerFactory,
    TeacherFactory,
    UserFactory,
    totp_code,
    verified_login,
)

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"
VERIFY = "/accounts/two-factor/"
ENROL = "/accounts/two-factor/enrol/"
CODES = "/accounts/two-factor/recovery-codes/"


def wrong_code(device: TOTPDevice) -> str:
    """None of the codes within the tolerance (the previous, current and next step)."""
    accepted = {totp_code(device, steps) for steps in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def enrolled(user) -> TOTPDevice:
    """An officer who set up two-factor login (and got recovery codes) earlier."""
    services.two_factor_enrol_start(user=user)
    device = TOTPDevice.objects.get(user=user)
    services.two_factor_enrol_confirm(user=user, code=totp_code(device))
    device.refresh_from_db()
    return device


def password_login(client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302


def unthrottle(device) -> None:
    """As if the back-off after the last wrong code had passed (authenticator and recovery
    codes alike)."""
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=device.user_id).update(throttling_failure_timestamp=None)


@pytest.fixture
def officer():
    user = OfficerFactory(is_staff=False)  # the group, not the staff flag, makes it an officer
    user.groups.add(Group.objects.get(name="Officers"))
    return user


@pytest.fixture
def staff_officer():
    return OfficerFactory(username="ravi")


def test_who_needs_it():
    supervisor = UserFactory()
    supervisor.groups.add(Group.objects.get(name="Supervisors"))
    assert two_factor_required(supervisor)
    assert two_factor_required(UserFactory(is_superuser=True))
    assert two_factor_required(OfficerFactory())  # staff: the admin
    assert not two_factor_required(TeacherFactory())
    assert not two_factor_required(UserFactory())


def test_first_login_enrols_then_shows_ten_recovery_codes_once(client, staff_officer):
    password_login(client, staff_officer)
    assert client.get(ADMIN).status_code == 302  # not yet
    response = client.get(ADMIN, follow=True)
    assert response.redirect_chain[-1][0] == f"{ENROL}?next=%2Fadmin%2F"
    page = response.content.decode()
    assert "<svg" in page and 'class="segno"' in page  # the QR code, inline
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=staff_officer, confirmed=False)
    assert secret == device.config_url.split("secret=")[1].split("&")[0]
    assert client.get(ENROL).content.decode().count(secret[:4]) == 1  # same key on reload

    response = client.post(ENROL, {"code": totp_code(device), "next": ADMIN})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == len(set(codes)) == 10
    page = response.content.decode()
    assert all(code in page for code in codes)
    assert f'href="{ADMIN}"' in page  # "I have saved them, continue"
    assert TOTPDevice.objects.get(user=staff_officer).confirmed
    assert client.get(ADMIN).status_code == 200
    # Shown once: the recovery codes page only counts them afterwards.
    page = client.get(CODES).content.decode()
    assert "10 unused recovery codes" in page
    assert not any(code in page for code in codes)


def test_a_wrong_enrolment_code_is_refused_and_throttled(client, staff_officer):
    password_login(client, staff_officer)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff_officer)
    response = client.post(ENROL, {"code": wrong_code(device)})
    assert response.status_code == 400
    assert str(services.ERR_TWO_FACTOR_CODE) in response.content.decode()
    # At once again, even with the right code: django-otp's back-off (1 s, then 2, 4...).
    response = client.post(ENROL, {"code": totp_code(device)})
    assert response.status_code == 429
    assert "Too many wrong codes" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == 1
    unthrottle(device)
    assert client.post(ENROL, {"code": totp_code(device)}).status_code == 200


def test_every_later_login_asks_for_a_code(client, staff_officer):
    device = enrolled(staff_officer)
    password_login(client, staff_officer)
    response = client.get(ADMIN, follow=True)
    assert response.redirect_chain[-1][0] == f"{VERIFY}?next=%2Fadmin%2F"
    assert b'id="totp-secret"' not in response.content  # the secret is never shown again
    response = client.post(VERIFY, {"code": totp_code(device, 1), "next": ADMIN})
    assert response.status_code == 302 and response.url == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_the_site_login_goes_through_the_code_page(client, staff_officer):
    enrolled(staff_officer)
    response = client.post(
        reverse("login"), {"username": staff_officer.username, "password": TEST_PASSWORD}
    )
    assert response.url == f"{VERIFY}?next=%2F"


def test_a_code_is_accepted_once(client, staff_officer):
    device = enrolled(staff_officer)
    password_login(client, staff_officer)
    code = totp_code(device, 1)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    other = type(client)()
    password_login(other, staff_officer)
    assert other.post(VERIFY, {"code": code}).status_code == 400


def test_a_recovery_code_works_once(client, staff_officer):
    enrolled(staff_officer)
    code = StaticToken.objects.filter(device__user=staff_officer).first().token
    password_login(client, staff_officer)
    response = client.post(VERIFY, {"code": f" {code.upper()} ", "next": ADMIN})
    assert response.status_code == 302
    assert client.get(ADMIN).status_code == 200
    assert StaticToken.objects.filter(device__user=staff_officer).count() == 9

    other = type(client)()
    password_login(other, staff_officer)
    response = other.post(VERIFY, {"code": code})
    assert response.status_code == 400
    assert str(services.ERR_TWO_FACTOR_CODE) in response.content.decode()
    assert other.get(ADMIN).status_code == 302


def test_recovery_codes_can_be_replaced(client, staff_officer):
    enrolled(staff_officer)
    old = set(
        StaticToken.objects.filter(device__user=staff_officer).values_list("token", flat=True)
    )
    verified_login(client, staff_officer)
    response = client.post(CODES)
    assert response.status_code == 200
    new = set(response.context["codes"])
    assert len(new) == 10 and not new & old
    assert set(StaticToken.objects.values_list("token", flat=True)) == new


def test_codes_are_rate_limited_per_account(client, settings, staff_officer):
    settings.TWO_FACTOR_RATE_LIMIT = "3/m"
    device = enrolled(staff_officer)
    password_login(client, staff_officer)
    for _ in range(3):
        unthrottle(device)
        assert client.post(VERIFY, {"code": wrong_code(device)}).status_code == 400
    response = client.post(VERIFY, {"code": totp_code(device, 1)})
    assert response.status_code == 429
    assert client.get(ADMIN).status_code == 302


def test_without_a_code_officer_pages_send_to_the_code_page(client, officer):
    enrolled(officer)
    client.force_login(officer)  # the password, not the code
    dashboard = reverse("complaints:dashboard")
    response = client.get(dashboard)
    assert response.status_code == 302
    assert response.url == f"{VERIFY}?next=%2Fcomplaints%2Fdashboard%2F"
    response = client.get(dashboard, HTTP_HX_REQUEST="true")
    assert response.headers["HX-Redirect"].startswith(VERIFY)
    verified_login(client, officer)
    assert client.get(dashboard).status_code == 200


@pytest.mark.parametrize("url", [ADMIN, "/admin/rq/", "/assessments/results/"])
def test_staff_pages_need_the_code(client, url):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0].startswith(ENROL)  # no authenticator yet
    verified_login(client, superuser)
    assert client.get(url).status_code == 200


def test_teachers_are_never_asked(client):
    teacher = TeacherFactory()
    password_login(client, teacher)
    assert client.get(VERIFY).url == "/"
    assert client.get(ENROL).url == "/"
    assert client.get(CODES).status_code == 403
    assert client.post(CODES).status_code == 403
    assert not TOTPDevice.objects.exists()


def test_a_superuser_resets_a_lost_phone(client, staff_officer):
    enrolled(staff_officer)
    officer_client = type(client)()
    verified_login(officer_client, staff_officer)
    assert officer_client.get(ADMIN).status_code == 200

    verified_login(client, UserFactory(is_staff=True, is_superuser=True))
    changelist = reverse("admin:accounts_user_changelist")
    response = client.post(
        changelist, {"action": "reset_two_factor", "_selected_action": [staff_officer.pk]}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff_officer).exists()
    assert not StaticToken.objects.filter(device__user=staff_officer).exists()
    assert LogEntry.objects.filter(object_id=str(staff_officer.pk)).exists()
    # The officer's verified session is over: the password, then enrolment again.
    response = officer_client.get(ADMIN, follow=True)
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    password_login(officer_client, staff_officer)
    response = officer_client.get(ADMIN, follow=True)
    assert response.redirect_chain[-1][0].startswith(ENROL)


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("url", [ADMIN, ENROL, VERIFY, CODES, "/admin/complaints/complaint/"])
def test_a_reset_logs_out_the_sessions_the_lost_device_verified(client, staff_officer, url, htmx):
    """Whoever holds such a session (the lost phone's own browser) must not enrol an
    authenticator of their own with it: enrolling again takes the password."""
    enrolled(staff_officer)
    verified_login(client, staff_officer)
    services.two_factor_reset(user=staff_officer, by=UserFactory(is_superuser=True))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(url, **headers)
    assert response.status_code == 302 or "HX-Redirect" in response.headers
    assert "_auth_user_id" not in client.session
    assert client.get(ENROL).url.startswith(reverse("login"))
    assert client.post(ENROL, {"code": "123456"}).url.startswith(reverse("login"))
    assert not TOTPDevice.objects.filter(user=staff_officer).exists()


def test_only_a_superuser_may_reset(client, staff_officer):
    enrolled(staff_officer)
    other = OfficerFactory()  # may change users, but is no superuser
    other.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    verified_login(client, other)
    changelist = reverse("admin:accounts_user_changelist")
    client.post(changelist, {"action": "reset_two_factor", "_selected_action": [staff_officer.pk]})
    assert TOTPDevice.objects.filter(user=staff_officer, confirmed=True).exists()


def test_bad_codes_are_4xx_not_500(client, staff_officer):
    device = enrolled(staff_officer)
    password_login(client, staff_officer)
    for code in ["", "\x00", "9" * 40, "١٢٣٤٥٦", "12 34 56 78 90"]:
        unthrottle(device)
        assert client.post(VERIFY, {"code": code}).status_code == 400, repr(code)


def test_the_code_page_in_malay(client, staff_officer):
    enrolled(staff_officer)
    password_login(client, staff_officer)
    response = client.get(VERIFY, HTTP_ACCEPT_LANGUAGE="ms")
    assert "Log masuk dua faktor" in response.content.decode()


@pytest.mark.parametrize("username", ["officer", "staff"])
def test_the_demo_officer_and_staff_enrol_at_their_first_login(client, username):
    call_command("seed_demo")
    response = client.post(
        reverse("login"), {"username": username, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(ENROL)
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    response = client.post(ENROL, {"code": totp_code(device), "next": ADMIN})
    assert len(response.context["codes"]) == 10
    assert client.get(ADMIN).status_code == 200
