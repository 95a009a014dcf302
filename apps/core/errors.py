"""Error responses a person can read. Django renders 400/403/404/500 from templates/; it has
no handler for 405, whose HttpResponseNotAllowed (require_http_methods, class-based views)
has an empty body: MethodNotAllowedPageMiddleware gives it one."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django_htmx.http import reswap, retarget

ERR_METHOD_NOT_ALLOWED = _("This address does not accept a %(method)s request.")
ERR_METHOD_NOT_ALLOWED_TODO = _(
    "Use the links and buttons on the pages instead of typing the address, or go back and "
    "try again."
)


def method_not_allowed_page(request: HttpRequest, allow: str) -> HttpResponse:
    """The 405 page; for htmx only the message, shown in the message area."""
    context = {
        "what": ERR_METHOD_NOT_ALLOWED % {"method": request.method},
        "todo": ERR_METHOD_NOT_ALLOWED_TODO,
    }
    if getattr(request, "htmx", False):
        fragment = render(request, "core/error.html#error-message", context, status=405)
        response = reswap(retarget(fragment, "#messages"), "innerHTML")
    else:
        response = render(request, "405.html", context, status=405)
    response["Allow"] = allow
    return response


class MethodNotAllowedPageMiddleware:
    """Renders a page for an empty 405. Place it after the locale, auth and htmx
    middleware, so the page is in the user's language and knows who they are."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            return method_not_allowed_page(request, response["Allow"])
        return response
