from base64 import b32encode
from urllib.parse import urlencode

import django_otp
import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.accounts import services
from apps.accounts.forms import TwoFactorCodeForm
from apps.accounts.two_factor import (
    recovery_codes_left,
    two_factor_enrolled,
    two_factor_redirect,
    two_factor_required,
    two_factor_satisfied,
    two_factor_session_current,
    two_factor_url,
    two_factor_verified_required,
)
from apps.core.errors import application_error_into_form
from apps.core.exceptions import ApplicationError, Invalid
from apps.core.ratelimit import rate_limit, rate_setting

# Two limits: per client address (password spraying) and per username (guessing one account).
# The site's and the admin's login share the counters (apps.accounts.admin_site).
login_rate_limit = rate_limit(
    group="accounts:login", keys=("ip", "post:username"), rate=rate_setting("LOGIN_RATE_LIMIT")
)


def _signed_in_user(group: str, request: HttpRequest) -> str:
    return str(request.user.pk)


# Codes per officer account, on top of django-otp's back-off per device.
two_factor_rate_limit = rate_limit(
    group="accounts:two-factor", keys=(_signed_in_user,), rate=rate_setting("TWO_FACTOR_RATE_LIMIT")
)


@method_decorator(login_rate_limit, name="post")
class RateLimitedLoginView(LoginView):
    redirect_authenticated_user = True

    def get_success_url(self):
        """An officer goes on through the code page (or enrolment) first."""
        url = super().get_success_url()
        if two_factor_satisfied(self.request):
            return url
        return two_factor_url(url)


def _next_url(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _code_refused(form: TwoFactorCodeForm, error: ApplicationError) -> int:
    """The refusal under the code field; its status (429 while the device is throttled)."""
    if isinstance(error, Invalid):
        application_error_into_form(form, error)
        return 400
    form.add_error("code", error.message)
    return 429 if error.code == services.TWO_FACTOR_THROTTLED else 409


def _verified(request: HttpRequest, device) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the stronger login


def two_factor_page(view):
    """The two-factor pages: never cached, signed in (with a session whose device still
    exists), GET or POST."""
    view = require_http_methods(["GET", "POST"])(view)
    return never_cache(two_factor_session_current(login_required(view)))


def _code_posted(request: HttpRequest, confirm) -> tuple[TwoFactorCodeForm, int, object]:
    """The code form, its status (200 shown, 400 invalid, 409 or 429 refused) and what
    `confirm(code)` returned for a posted code it accepted (else None)."""
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    if not form.is_bound:
        return form, 200, None
    if not form.is_valid():
        return form, 400, None
    try:
        return form, 200, confirm(form.cleaned_data["code"])
    except ApplicationError as error:
        return form, _code_refused(form, error), None


@two_factor_page
@two_factor_rate_limit
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Every login of an officer: a code from the authenticator app or a recovery code."""
    next_url = _next_url(request)
    if two_factor_satisfied(request):
        return redirect(next_url)
    if not two_factor_enrolled(request.user):
        return redirect(f"{reverse('two-factor-enrol')}?{urlencode({'next': next_url})}")
    form, status, device = _code_posted(
        request, lambda code: services.two_factor_verify(user=request.user, code=code)
    )
    if device is not None:
        _verified(request, device)
        return redirect(next_url)
    context = {"form": form, "next": next_url}
    return render(request, "accounts/two_factor_verify.html", context, status=status)


def _provisioning(device) -> dict:
    """The QR code for the authenticator app, and the same secret typed out."""
    secret = b32encode(device.bin_key).decode()
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, title=gettext("QR code for your authenticator app")
    )
    return {
        "qr_svg": mark_safe(svg),  # segno's own markup: no user input in it but the username
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


@two_factor_page
@two_factor_rate_limit
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """First login of an officer: scan the QR code, confirm with a code, keep the recovery
    codes (shown only on the answer to that confirmation)."""
    next_url = _next_url(request)
    if not two_factor_required(request.user):
        return redirect(next_url)
    if two_factor_enrolled(request.user):
        return two_factor_redirect(request, next_url)
    device = services.two_factor_enrol_start(user=request.user)
    form, status, confirmed = _code_posted(
        request, lambda code: services.two_factor_enrol_confirm(user=request.user, code=code)
    )
    if confirmed is not None:
        device, codes = confirmed
        _verified(request, device)
        context = {"codes": codes, "next": next_url, "enrolled": True}
        return render(request, "accounts/recovery_codes.html", context)
    context = {"form": form, "next": next_url, **_provisioning(device)}
    return render(request, "accounts/two_factor_enrol.html", context, status=status)


@two_factor_page
@two_factor_verified_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """How many recovery codes are left; POST replaces them with ten new ones."""
    if not two_factor_required(request.user):
        raise PermissionDenied
    next_url = _next_url(request)
    if request.method == "POST":
        codes = services.recovery_codes_regenerate(user=request.user)
        return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
    context = {"left": recovery_codes_left(user=request.user), "next": next_url}
    return render(request, "accounts/recovery_codes.html", context)
