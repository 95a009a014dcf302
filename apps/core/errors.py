"""Error responses a person can read: what happened and what to do, in their language. A
page (templates/<status>.html), or for htmx only the message, shown in the message area.

Django's handlers for 400, 403 and 404 are replaced (config/urls.py) so that htmx gets a
fragment and not a whole page inside the element it swaps. Django has no handler for 405,
whose HttpResponseNotAllowed (require_http_methods, class-based views) has an empty body:
MethodNotAllowedPageMiddleware gives it one. 500.html stands alone (Django's handler)."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django_htmx.http import reswap, retarget

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


def into_messages(fragment: HttpResponse) -> HttpResponse:
    """An htmx answer that replaces the page's message area (#messages), whatever element
    the request was going to swap: a refusal or an error never lands inside a question."""
    return reswap(retarget(fragment, "#messages"), "innerHTML")


def error_response(request: HttpRequest, status: int, what: str, todo: str) -> HttpResponse:
    context = {"what": what, "todo": todo}
    if getattr(request, "htmx", False):
        return into_messages(
            render(request, "core/error.html#error-message", context, status=status)
        )
    return render(request, f"{status}.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400. A suspicious request (e.g. an unknown Host) may carry no htmx details."""
    return error_response(request, 400, ERR_BAD_REQUEST, ERR_BAD_REQUEST_TODO)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    return error_response(request, 403, ERR_FORBIDDEN, ERR_FORBIDDEN_TODO)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404. Someone else's attempt is a 404 too: never say which it was."""
    return error_response(request, 404, ERR_NOT_FOUND, ERR_NOT_FOUND_TODO)


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
