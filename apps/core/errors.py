"""Error responses a person can read: what happened and what to do, in their language. A
page (templates/<status>.html), or for htmx only the message, shown in the message area.

Django's handlers for 400, 403 and 404 are replaced (config/urls.py) so that htmx gets a
fragment and not a whole page inside the element it swaps. Django has no handler for 405,
whose HttpResponseNotAllowed (require_http_methods, class-based views) has an empty body:
MethodNotAllowedPageMiddleware gives it one. 500.html stands alone (Django's handler).

An ApplicationError (apps/core/exceptions.py) meets the user here and nowhere else: as a
response (ApplicationErrorMiddleware, for any view that does not handle it), as an admin
message, or as a form's errors."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django_htmx.http import reswap, retarget

from apps.core.exceptions import ApplicationError, Invalid, NotFound, Refused, Unavailable

ERR_BAD_REQUEST = _("The server could not understand what your browser sent.")
ERR_BAD_REQUEST_TODO = _(
    "Go back, reload the page and try again. If you followed a link, it may be broken."
)
ERR_FORBIDDEN = _("Your account is not allowed to do this.")
ERR_FORBIDDEN_TODO = _("Log in with an account that may, or ask an administrator for access.")
ERR_NOT_FOUND = _("There is nothing at this address, or it is not yours to see.")
ERR_NOT_FOUND_TODO = _(
    "Check the address, or go back and follow a link from a page you were shown."
)
ERR_METHOD_NOT_ALLOWED = _("This address does not accept a %(method)s request.")
ERR_METHOD_NOT_ALLOWED_TODO = _(
    "Use the links and buttons on the pages instead of typing the address, or go back and "
    "try again."
)
ERR_INVALID_TODO = _("Correct what is marked and send it again.")
ERR_REFUSED_TODO = _("Reload the page to see where things stand now before you try again.")
ERR_UNAVAILABLE_TODO = _("Send it again in a few seconds.")
UNAVAILABLE_RETRY_AFTER_SECONDS = 5  # a 503's Retry-After
# (error class, HTTP status, page template, what to do): the first class that matches wins.
APPLICATION_ERRORS = (
    (NotFound, 404, "404.html", ERR_NOT_FOUND_TODO),
    (Refused, 409, "400.html", ERR_REFUSED_TODO),  # no page of its own: the 400 page's words
    (Invalid, 400, "400.html", ERR_INVALID_TODO),
    (Unavailable, 503, "400.html", ERR_UNAVAILABLE_TODO),
    (ApplicationError, 400, "400.html", ERR_BAD_REQUEST_TODO),
)


def into_messages(fragment: HttpResponse) -> HttpResponse:
    """An htmx answer that replaces the page's message area (#messages), whatever element
    the request was going to swap: a refusal or an error never lands inside a question."""
    return reswap(retarget(fragment, "#messages"), "innerHTML")


def error_response(
    request: HttpRequest, status: int, what: str, todo: str, template: str = ""
) -> HttpResponse:
    context = {"what": what, "todo": todo}
    if getattr(request, "htmx", False):
        return into_messages(
            render(request, "core/error.html#error-message", context, status=status)
        )
    return render(request, template or f"{status}.html", context, status=status)


def _application_error_row(error: ApplicationError) -> tuple:
    return next(row for row in APPLICATION_ERRORS if isinstance(error, row[0]))


def application_error_status(error: ApplicationError) -> int:
    """The HTTP status of an error, for a view that shows it its own way (and then
    `retry_later` on its response)."""
    return _application_error_row(error)[1]


def retry_later(response: HttpResponse) -> HttpResponse:
    """A 503 says when to send the request again. It is an expected answer (the browser
    sends again), not a server error: django.request does not log it as one (a storm of
    resends after an outage would flood the log); the request's own line still records it."""
    if response.status_code == 503:
        response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        response._has_been_logged = True  # django.utils.log.log_response's own marker
    return response


def application_error_response(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """The error's message as a page, or for htmx in the message area, with its status."""
    _kind, status, template, todo = _application_error_row(error)
    return retry_later(error_response(request, status, error.message, todo, template))


def application_error_message(request: HttpRequest, error: ApplicationError) -> None:
    """An admin action's refusal: the error's message on the next page."""
    messages.error(request, error.message, fail_silently=True)


def application_error_into_form(form: forms.BaseForm, error: Invalid) -> None:
    """A service's Invalid shown by the form that sent the data: each message under its
    field, or above the form when the form has no such field."""
    for name, field_messages in error.errors.items():
        form.add_error(name if name in form.fields else None, field_messages)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400. A suspicious request (e.g. an unknown Host) may carry no htmx details."""
    return error_response(request, 400, ERR_BAD_REQUEST, ERR_BAD_REQUEST_TODO)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    return error_response(request, 403, ERR_FORBIDDEN, ERR_FORBIDDEN_TODO)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404. Someone else's attempt is a 404 too: never say which it was."""
    return error_response(request, 404, ERR_NOT_FOUND, ERR_NOT_FOUND_TODO)


class ApplicationErrorMiddleware:
    """An ApplicationError a view let through becomes its response (not a 500). Place it
    after the locale, auth and htmx middleware, like the one below."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, ApplicationError):
            return application_error_response(request, exception)
        return None


class MethodNotAllowedPageMiddleware:
    """Renders the page for an empty 405, keeping its Allow header. Place it after the locale,
    auth and htmx middleware: the page is in the user's language and knows who they are."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            what = ERR_METHOD_NOT_ALLOWED % {"method": request.method}
            page = error_response(request, 405, what, ERR_METHOD_NOT_ALLOWED_TODO)
            page["Allow"] = response["Allow"]
            return page
        return response
