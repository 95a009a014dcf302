"""The two ceilings every bench throughput figure is divided by, measured in the same run
with the same gunicorn settings and the same middleware: a view that returns a constant,
and a view that does one upsert through the same connection pool.

Mounted under /bench/ only when settings.BENCH_CEILINGS is on (the bench turns it on for
the gunicorn it starts); production never serves these.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

# A plain, logged table that only the bench creates, in its own database: the upsert pays the
# same WAL write and commit flush as an answer save does, so the ceiling is a fair one (an
# UNLOGGED table would skip exactly that cost), while no model, migration or domain table
# carries bench rows. The keys are bounded by the plan, so it stays small.
UPSERT_TABLE = "bench_ceiling_upsert"
CREATE_UPSERT_TABLE = f"""
CREATE TABLE IF NOT EXISTS {UPSERT_TABLE} (
    key integer PRIMARY KEY,
    value integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)"""
UPSERT = f"""
INSERT INTO {UPSERT_TABLE} (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"""


@require_GET
def constant(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


@csrf_exempt
@require_POST
def upsert(request: HttpRequest, key: int) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(UPSERT, [key, int(request.POST.get("value", 0))])
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("constant", constant, name="bench-constant"),
    path("upsert/<int:key>", upsert, name="bench-upsert"),
]
