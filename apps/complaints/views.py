import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap
from django_ratelimit.core import get_usage, is_ratelimited

from apps.accounts.two_factor import two_factor_verified_required
from apps.complaints.forms import (
    ERR_SPAM,
    ERR_STATUS_NOT_FOUND,
    ERR_UNKNOWN_FIELD,
    ComplaintForm,
    DashboardFilterForm,
    StatusForm,
)
from apps.complaints.models import Attachment
from apps.complaints.selectors import (
    complaint_public_status,
    complaint_status_fingerprint,
    dashboard_stats,
)
from apps.complaints.services import (
    CONTACT_FIELDS,
    FILING_FIELDS,
    attachment_download_record,
    complaint_file,
    filing_check,
)
from apps.core.errors import application_error_into_form
from apps.core.exceptions import Invalid
from apps.core.htmx import HtmxHttpRequest, page_or_partial
from apps.core.ratelimit import RateLimited, rate_limit, rate_setting


def client_key(group: str, request: HttpRequest) -> str:
    """django-ratelimit key: a salted hash of the client address, never the address itself."""
    address = request.META.get("REMOTE_ADDR", "")
    salt = settings.COMPLAINTS_CLIENT_SALT.encode()
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:32]


def _filing_refused(request: HtmxHttpRequest, form: ComplaintForm) -> HttpResponse:
    if request.htmx:  # the errors only: the form keeps what was typed and chosen
        errors = render(request, "complaints/file.html#form-errors", {"form": form}, status=400)
        return reswap(errors, "none")
    return render(request, "complaints/file.html", {"form": form}, status=400)


def _filing_problems_too(form: ComplaintForm) -> None:
    """The filing's own rules (attachments, contact or anonymous) on what the form could
    read, so that every problem shows in one answer, not one round after another. A contact
    field the form refused counts as given: "give a way to contact you" would mislead."""
    given = {name: form.cleaned_data[name] for name in FILING_FIELDS if name in form.cleaned_data}
    if any(name in form.errors for name in CONTACT_FIELDS):
        given["anonymous"] = True
    try:
        filing_check(uploads=form.cleaned_data.get("attachments") or (), **given)
    except Invalid as error:
        application_error_into_form(form, error)


@never_cache
@require_http_methods(["GET", "POST"])
@rate_limit(
    group="complaints:file", keys=(client_key,), rate=rate_setting("COMPLAINTS_FILE_RATE_LIMIT")
)
def file_complaint(request: HtmxHttpRequest) -> HttpResponse:
    """The public form. POST files the complaint and shows the reference and the receipt."""
    if request.method == "GET":
        return render(request, "complaints/file.html", {"form": ComplaintForm()})
    form = ComplaintForm(request.POST, request.FILES)
    if form.is_spam:
        context = {"form": ComplaintForm(), "form_error": ERR_SPAM}
        return page_or_partial(request, "complaints/file.html", "complaint-form", context, 400)
    if not form.is_valid():
        _filing_problems_too(form)
        return _filing_refused(request, form)
    try:
        filed = complaint_file(
            **{name: form.cleaned_data[name] for name in FILING_FIELDS},
            uploads=form.cleaned_data["attachments"],
        )
    except Invalid as error:
        application_error_into_form(form, error)
        return _filing_refused(request, form)
    context = {"complaint": filed.complaint, "receipt": filed.receipt}
    return page_or_partial(request, "complaints/filed.html", "filed", context, 201)


@require_POST
def validate_field(request: HtmxHttpRequest) -> HttpResponse:
    """Inline validation of one field while the complainant types."""
    form = ComplaintForm(request.POST)
    try:
        errors = form.field_errors(request.GET.get("field", ""))
    except KeyError:
        return HttpResponse(ERR_UNKNOWN_FIELD, status=400, content_type="text/plain")
    return render(request, "complaints/file.html#field-errors", {"errors": errors})


@never_cache
@require_http_methods(["GET", "POST"])
def complaint_status(request: HtmxHttpRequest) -> HttpResponse:
    """Reference + receipt: the public status. Wrong receipt and unknown reference get the
    same 404; only failed look-ups count towards the rate limit."""
    if request.method == "GET":
        return render(request, "complaints/status.html", {"form": StatusForm()})
    lookup = {
        "group": "complaints:status",
        "key": client_key,
        "rate": rate_setting("COMPLAINTS_STATUS_RATE_LIMIT"),
    }
    usage = get_usage(request, **lookup)  # a peek: only failed look-ups count
    if usage and usage["count"] >= usage["limit"]:
        raise RateLimited.from_usage(usage)
    form = StatusForm(request.POST)
    if not form.is_valid():
        context = {"form": form}
        return page_or_partial(request, "complaints/status.html", "status-panel", context, 400)
    complaint = complaint_public_status(
        reference=form.cleaned_data["reference"], receipt=form.cleaned_data["receipt"]
    )
    if complaint is None:
        is_ratelimited(request, **lookup, increment=True)
        context = {"form": form, "not_found": ERR_STATUS_NOT_FOUND}
        return page_or_partial(request, "complaints/status.html", "status-panel", context, 404)
    seen = complaint_status_fingerprint(complaint)
    if request.htmx and request.POST.get("seen") == seen:
        return HttpResponse(status=204)  # a poll, nothing new: htmx keeps the panel
    context = {
        "form": form,
        "complaint": complaint,
        "seen": seen,
        "poll_seconds": settings.COMPLAINTS_STATUS_POLL_SECONDS,
    }
    return page_or_partial(request, "complaints/status.html", "status-panel", context)


@login_required
@permission_required("complaints.download_attachment", raise_exception=True)
@two_factor_verified_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """Officers only; every download is audited. Never rendered inline by the browser."""
    attachment = get_object_or_404(Attachment.objects.select_related("complaint"), pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    attachment_download_record(attachment=attachment, by=request.user)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@permission_required("complaints.view_dashboard", raise_exception=True)
@two_factor_verified_required
@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    form = DashboardFilterForm(request.GET)
    # The template caches its rendering (filters, charts) for as long as the figures.
    context = {"form": form, "stats_ttl": settings.COMPLAINTS_DASHBOARD_CACHE_TTL}
    if not form.is_valid():
        return page_or_partial(request, "complaints/dashboard.html", "dashboard-body", context, 400)
    context["stats"] = dashboard_stats(filters=form.filters())
    return page_or_partial(request, "complaints/dashboard.html", "dashboard-body", context)
