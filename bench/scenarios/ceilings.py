"""The ceilings: what gunicorn serves with no Django at all (a plain WSGI callable), Django
with no middleware, and this stack when the view does nothing and when it does one upsert.
Every other throughput is also reported as a ratio to the last two; the answer save's
report shows the whole chain (bench.context.CHAIN)."""

from django.db import connection

from bench.ceilings import CREATE_UPSERT_TABLE
from bench.context import Bench
from bench.load import LoadResult, PlannedRequest
from bench.report import ScenarioResult, fmt_int, fmt_latency
from bench.scenarios.base import Scenario

UPSERT_KEYS = 10_000
CONSTANT_LINES = 100
CONSTANT_PATH = "/bench/constant"

# name -> (label, the gunicorn role, its WSGI app and environment); None: the app's gunicorn.
SERVERS = {
    "plain": ("plain WSGI", "plain WSGI web", "bench.plain_wsgi", {}),
    "bare": (
        "Django without middleware",
        "bare Django web",
        "config.wsgi",
        {"DJANGO_SETTINGS_MODULE": "bench.settings_bare"},
    ),
}


class Ceilings(Scenario):
    name = "ceilings"
    title = "Ceilings"
    repeatable = True

    def run(self, bench: Bench) -> ScenarioResult:
        with connection.cursor() as cursor:
            cursor.execute(CREATE_UPSERT_TABLE)
        result = self.result()
        constant = [
            PlannedRequest(id=f"ceiling-constant-{n}", path=CONSTANT_PATH)
            for n in range(CONSTANT_LINES)
        ]
        for name, (label, role, app, env) in SERVERS.items():
            base_url = bench.stack.start_ceiling_web(role, app, env)
            try:
                load = bench.load(
                    f"ceiling-{name}", constant, seconds=bench.sizes.ceiling_s, base_url=base_url
                )
            finally:
                bench.stack.stop_ceiling_webs()  # idle, it would still take memory
            self.report(bench, result, name, label, load)
        upsert = [
            PlannedRequest(
                id=f"ceiling-upsert-{key}",
                method="POST",
                path=f"/bench/upsert/{key}",
                body=f"value={key}",
            )
            for key in range(UPSERT_KEYS)
        ]
        for name, label, plan in (
            ("constant", "constant view", constant),
            ("upsert", "bare upsert view", upsert),
        ):
            load = bench.load(f"ceiling-{name}", plan, seconds=bench.sizes.ceiling_s)
            self.report(bench, result, name, label, load, app_time=True)
        return result

    @staticmethod
    def report(bench, result: ScenarioResult, name, label, load: LoadResult, app_time=False):
        bench.record(name, load)
        result.add(f"{label}: req/s", load.rate, fmt_int(load.rate))
        result.add(f"{label}: p50 / p95 / p99", load.latency_ms, fmt_latency(load.latency_ms))
        result.add(f"{label}: errors", load.failed, fmt_int(load.failed), "= 0", not load.failed)
        if app_time:  # Server-Timing comes from our middleware
            bench.add_app_time(result, load, label)
        bench.add_cpu(result, load, label)
