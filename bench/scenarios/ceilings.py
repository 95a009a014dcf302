"""The two ceilings: what this stack serves when the view does nothing, and when it does
one upsert. Every other throughput is also reported as a ratio to these."""

from django.db import connection

from bench.ceilings import CREATE_UPSERT_TABLE
from bench.context import Bench
from bench.load import PlannedRequest
from bench.report import ScenarioResult, fmt_int, fmt_latency
from bench.scenarios.base import Scenario

UPSERT_KEYS = 10_000
CONSTANT_LINES = 100


class Ceilings(Scenario):
    name = "ceilings"
    title = "Ceilings"

    def run(self, bench: Bench) -> ScenarioResult:
        with connection.cursor() as cursor:
            cursor.execute(CREATE_UPSERT_TABLE)
        plans = {
            "constant": [
                PlannedRequest(id=f"ceiling-constant-{n}", path="/bench/constant")
                for n in range(CONSTANT_LINES)
            ],
            "upsert": [
                PlannedRequest(
                    id=f"ceiling-upsert-{key}",
                    method="POST",
                    path=f"/bench/upsert/{key}",
                    body=f"value={key}",
                )
                for key in range(UPSERT_KEYS)
            ],
        }
        result = self.result()
        for name, plan in plans.items():
            load = bench.load(f"ceiling-{name}", plan, seconds=bench.sizes.ceiling_s)
            bench.ceilings[name] = load.rate
            label = "constant view" if name == "constant" else "bare upsert view"
            result.add(f"{label}: req/s", load.rate, fmt_int(load.rate))
            result.add(f"{label}: p50 / p95 / p99", load.latency_ms, fmt_latency(load.latency_ms))
            result.add(
                f"{label}: errors", load.failed, fmt_int(load.failed), "= 0", not load.failed
            )
            bench.add_app_time(result, load, label)
            bench.add_cpu(result, load, label)
        return result
