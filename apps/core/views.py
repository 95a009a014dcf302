from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.errors import into_messages, retry_later
from apps.core.health import readiness


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take traffic: PostgreSQL, the cache and the job queue all answer."""
    parts = readiness()
    failing = [name for name, state in parts.items() if state != "ok"]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, "parts": parts}
    return JsonResponse(body, status=503 if failing else 200)


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """RATELIMIT_VIEW: for htmx a small fragment shown in the message area; else a page.
    A limit that knows when its window ends (apps.core.ratelimit) says when to retry."""
    retry_after = getattr(exception, "retry_after", None)
    context = {"retry_after": retry_after}
    if getattr(request, "htmx", False):
        name = "core/ratelimited.html#ratelimited-message"
        response = into_messages(render(request, name, context, status=429))
    else:
        response = render(request, "core/ratelimited.html", context, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 while the database is unreachable (DatabaseUnavailableMiddleware), rendered
    without the request: its user, session and messages could need that database."""
    htmx = getattr(request, "htmx", False)
    template = "core/unavailable.html#unavailable-message" if htmx else "core/unavailable.html"
    response = retry_later(HttpResponse(render_to_string(template), status=503))
    return into_messages(response) if htmx else response
