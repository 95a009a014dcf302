"""Officers' two-factor login: who needs it, and whether a request has it.

Everyone who can see complainants or run the admin needs it: staff, superusers and the
members of the Officers and Supervisors groups. Teachers and the public never do.

django-otp's OTPMiddleware would do the session check for every request, the teachers' answer
saves included; here it runs only where officers go: the admin (AdminSite.has_permission) and
the officer-only views (`two_factor_verified_required`). A verified session holds the
persistent id of the device that accepted the code (`django_otp.login`), checked against
the database on each of those requests, so a reset by a superuser ends it (logs it out) at once.
"""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.complaints.selectors import OFFICER_GROUPS


def two_factor_required(user) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=OFFICER_GROUPS).exists()


def two_factor_device(request: HttpRequest):
    """The confirmed device of the signed-in user that verified this session, or None. Sets
    `request.user.otp_device` as django-otp's middleware would (once per request)."""
    if hasattr(request, "_two_factor_device"):
        return request._two_factor_device
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    if device is not None and (device.user_id != request.user.pk or not device.confirmed):
        device = None
    if device is None and persistent_id:
        # Reset (a lost phone), or another user's: the session ends, so whoever holds it (the
        # lost phone's own browser) cannot enrol an authenticator of their own without the
        # password. Callers asked two_factor_required of the user before this.
        logout(request)
    request.user.otp_device = device
    request._two_factor_device = device
    return device


def two_factor_satisfied(request: HttpRequest) -> bool:
    """Nobody needs it, or this session was verified with a code (with a device still there:
    a session verified by a reset device is logged out, see two_factor_device)."""
    return not two_factor_required(request.user) or two_factor_device(request) is not None


def two_factor_session_current(view):
    """Outside login_required on the two-factor pages: a session verified by a device that
    was reset since is logged out before anything, so enrolling again takes the password."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.is_authenticated:
            two_factor_device(request)
        return view(request, *args, **kwargs)

    return wrapped


def two_factor_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_url(next_url: str) -> str:
    """The code page (which sends an officer with no authenticator yet to enrolment), then
    `next_url`."""
    return f"{reverse('two-factor')}?{urlencode({'next': next_url})}"


def two_factor_redirect(request: HttpRequest, next_url: str = "") -> HttpResponse:
    url = two_factor_url(next_url or request.get_full_path())
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def two_factor_verified_required(view):
    """For officer-only views, after their login and permission checks."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not two_factor_satisfied(request):
            return two_factor_redirect(request)
        return view(request, *args, **kwargs)

    return wrapped
