import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
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
    MSG_FOLLOWED_UP,
    ComplaintForm,
    DashboardFilterForm,
    FollowUpForm,
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
    complaint_follow_up,
    complaint_follow_up_refusal,
    filing_check,
)
from apps.core.errors import application_error_into_form, application_error_status
from apps.core.exceptions import Invalid, Refused
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


def _status_panel(request: HtmxHttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return page_or_partial(request, "complaints/status.html", "status-panel", context, status)


def _status_context(form: StatusForm, complaint, **extra) -> dict:
    refusal = complaint_follow_up_refusal(complaint)
    return {
        "follow_up_refused": refusal.message if refusal else "",
        "form": form,
        "complaint": complaint,
        "seen": complaint_status_fingerprint(complaint),
        "poll_seconds": settings.COMPLAINTS_STATUS_POLL_SECONDS,
        "follow_up": FollowUpForm(generation=len(complaint.follow_ups)),
        **extra,
    }


def _receipt_proven(request: HtmxHttpRequest):
    """Reference + receipt from the POST, checked for every request that shows or changes a
    complaint (each carries the receipt: no session outlives it): (form, complaint, None),
    or (form, None, the refusal): 400 malformed, 404 for a wrong receipt or an unknown
    reference alike. Only failed look-ups count towards the rate limit."""
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
        return form, None, _status_panel(request, {"form": form}, 400)
    complaint = complaint_public_status(
        reference=form.cleaned_data["reference"], receipt=form.cleaned_data["receipt"]
    )
    if complaint is None:
        is_ratelimited(request, **lookup, increment=True)
        context = {"form": form, "not_found": ERR_STATUS_NOT_FOUND}
        return form, None, _status_panel(request, context, 404)
    return form, complaint, None


@never_cache
@require_http_methods(["GET", "POST"])
def complaint_status(request: HtmxHttpRequest) -> HttpResponse:
    """Reference + receipt: the public status, and the form to add information."""
    if request.method == "GET":
        return render(request, "complaints/status.html", {"form": StatusForm()})
    form, complaint, refused = _receipt_proven(request)
    if refused:
        return refused
    context = _status_context(form, complaint)
    if request.htmx and request.POST.get("seen") == context["seen"]:
        return HttpResponse(status=204)  # a poll, nothing new: htmx keeps the panel
    return _status_panel(request, context)


@never_cache
@require_POST
@rate_limit(
    group="complaints:file", keys=(client_key,), rate=rate_setting("COMPLAINTS_FILE_RATE_LIMIT")
)
def follow_up(request: HtmxHttpRequest) -> HttpResponse:
    """The complainant adds information and files, proven by the receipt like the status
    page; uploads count towards the filing's rate limit. The status panel answers: 201 with
    the follow-up, 400 with what to correct, 409 if the complaint cannot take it."""
    form, complaint, refused = _receipt_proven(request)
    if refused:
        return refused
    added = FollowUpForm(request.POST, request.FILES, generation=len(complaint.follow_ups))
    if added.is_valid():
        try:
            complaint_follow_up(
                complaint=complaint,
                text=added.cleaned_data["text"],
                files=added.cleaned_data["attachments"],
                follow_ups_seen=added.cleaned_data["follow_ups_seen"],
            )
        except Invalid as error:
            application_error_into_form(added, error)
        except Refused as error:
            context = _status_context(
                form, complaint, follow_up_refused=error.message, refused_now=True
            )
            return _status_panel(request, context, application_error_status(error))
    if added.errors:
        return _status_panel(request, _status_context(form, complaint, follow_up=added), 400)
    complaint = complaint_public_status(  # again: the follow-up and the status it led to
        reference=form.cleaned_data["reference"], receipt=form.cleaned_data["receipt"]
    )
    context = _status_context(form, complaint, followed_up=MSG_FOLLOWED_UP)
    return _status_panel(request, context, 201)


@never_cache
@require_POST
def receipt_download(request: HtmxHttpRequest) -> HttpResponse:
    """The receipt as a text file, made from what the confirmation page holds (only its
    digest is stored), for a reference and receipt that match as on the status page."""
    form, complaint, refused = _receipt_proven(request)
    if refused:
        return refused
    context = {"complaint": complaint, "receipt": form.cleaned_data["receipt"].strip()}
    response = HttpResponse(
        render_to_string("complaints/receipt.txt", context, request),
        content_type="text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{complaint.reference}-receipt.txt"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


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
