"""The two htmx shapes every view answers in: the whole page, or only its named partial."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (for type checkers)."""

    htmx: HtmxDetails


def page_or_partial(
    request: HtmxHttpRequest, template: str, partial: str, context: dict, status: int = 200
) -> HttpResponse:
    """The whole page, or for htmx only its named partial (same URL, same context)."""
    name = f"{template}#{partial}" if request.htmx else template
    return render(request, name, context, status=status)
