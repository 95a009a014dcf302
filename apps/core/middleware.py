"""Request timing (one log line per request, a Server-Timing header, slow-request warnings),
health endpoints answered before anything that could wait on a dependency, and a 503 instead
of a 500 while the database is unreachable."""

import logging
import re
import time
import uuid

import psycopg
from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.db import InterfaceError, connection
from psycopg_pool import PoolTimeout

from apps.core import views
from apps.core.outage import outage

logger = logging.getLogger("crowdproof.requests")

# Accept a caller's request id (load balancer, client) only when it is short and plain.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _QueryCounter:
    """A database execute wrapper that counts queries and the time spent in them."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class RequestTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        counter = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000

        response["X-Request-ID"] = request.id
        db_ms = counter.seconds * 1000
        response["Server-Timing"] = (
            f'app;dur={duration_ms:.1f}, db;dur={db_ms:.1f};desc="{counter.count} queries"'
        )
        level = logging.WARNING if duration_ms > settings.SLOW_REQUEST_MS else logging.INFO
        logger.log(
            level,
            "request_id=%s method=%s path=%s status=%s duration_ms=%.1f queries=%d%s",
            request.id,
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            counter.count,
            " slow=true" if level == logging.WARNING else "",
        )
        return response


class HealthCheckMiddleware:
    """/healthz and /readyz answered here, ahead of sessions, auth and the database pool, so
    a load balancer hears from the node even while every other request waits on a part."""

    VIEWS = {"/healthz": views.healthz, "/readyz": views.readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.VIEWS.get(request.path_info)
        return view(request) if view else self.get_response(request)


# SQLSTATEs that mean "cannot reach the database" rather than "this query failed": connection
# exceptions (08), shutdown or restart (57P01-57P03), too many connections (53300).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unreachable(exc: BaseException) -> bool:
    """Django wraps psycopg's errors; the cause says whether the server was reachable."""
    if isinstance(exc, InterfaceError):  # a connection Django already knows is closed
        return True
    cause = exc.__cause__
    if isinstance(cause, PoolTimeout | psycopg.InterfaceError):
        return True
    if isinstance(cause, psycopg.OperationalError):
        # No SQLSTATE: the failure happened before or outside a server's answer.
        return cause.sqlstate is None or cause.sqlstate.startswith(_UNREACHABLE_SQLSTATES)
    return False


class DatabaseUnavailableMiddleware:
    """While PostgreSQL is unreachable a request that needs it gets a 503 with Retry-After
    (views.unavailable) instead of a 500 and a traceback; the outage is logged once."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.outage = outage("database")

    def __call__(self, request):
        response = self.get_response(request)
        # A request that held a connection and did not fail: the database is back.
        if self.outage.down and response.status_code < 500 and connection.connection:
            self.outage.recovered()
        return response

    def process_exception(self, request, exception):
        if not database_unreachable(exception):
            return None
        self.outage.failed(exception)
        return views.unavailable(request)


# Response attributes by which django-csp's decorators change the policy of one response.
_CSP_PER_RESPONSE = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace") for suffix in ("", "_ro")
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the policy built once per process. django-csp builds the
    header string on every response (a tenth of a constant view's CPU here); ours has no
    nonces and no per-view changes, so the string is always the same. A response with a
    nonce or a per-view change still gets django-csp's own build."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self._built = {}  # report_only -> the header value, per process

    def _policy(self, *, report_only: bool) -> str:
        if report_only not in self._built:
            self._built[report_only] = build_policy(report_only=report_only)
        return self._built[report_only]

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_PER_RESPONSE
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (500, 404):
            return response  # django-csp leaves Django's debug pages alone
        for header, report_only, exempt, setting in (
            (CSP_HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (CSP_HEADER_REPORT_ONLY, True, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            policy = self._policy(report_only=report_only)
            config = getattr(settings, setting, None) or {}
            excluded = tuple(config.get("EXCLUDE_URL_PREFIXES") or ())
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
