"""Request timing: one log line per request, a Server-Timing header, slow-request warnings."""

import logging
import re
import time
import uuid

from django.conf import settings
from django.db import connection

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
