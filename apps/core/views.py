from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.http import reswap, retarget

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
    """RATELIMIT_VIEW: for htmx a small fragment shown in the message area; else a page."""
    if getattr(request, "htmx", False):
        response = render(request, "core/ratelimited.html#ratelimited-message", status=429)
        return reswap(retarget(response, "#messages"), "innerHTML")
    return render(request, "core/ratelimited.html", status=429)
