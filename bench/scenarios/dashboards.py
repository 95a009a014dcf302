"""Scenario 5: the staff results dashboard over 1,000,000 saved answers and the officers'
complaints dashboard over 100,000 complaints, cold (its cache entries deleted before each
request) and warm (officers refreshing it under wrk), with the cache hit rate."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.urls import reverse

from bench.assessments import ITEMS, ensure_dashboard_questionnaire
from bench.complaints import ensure_bulk_complaints
from bench.context import Bench
from bench.data import bench_staff
from bench.load import PlannedRequest
from bench.report import ScenarioResult, fmt_int, fmt_latency, fmt_ms, fmt_pct
from bench.scenarios.base import Scenario
from bench.sessions import sessions_create
from bench.stats import latency_summary

WARM_P95_GOAL_MS = 20
COLD_REQUESTS = 8
OFFICERS = 4  # staff refreshing a dashboard at the same moment


@dataclass(frozen=True)
class Dashboard:
    label: str
    path: str
    cache_pattern: str  # the dashboard's own cache keys (deleted for a cold request)
    data: str  # what it is computed over


class Dashboards(Scenario):
    name = "dashboards"
    title = "Dashboards"

    def run(self, bench: Bench) -> ScenarioResult:
        sessions = sessions_create(users=[bench_staff()] * OFFICERS)
        result = self.result()
        for dashboard in self.dashboards(bench):
            self.measure(bench, result, dashboard, sessions)
        return result

    @staticmethod
    def dashboards(bench: Bench) -> list[Dashboard]:
        questionnaire = ensure_dashboard_questionnaire(
            answers=bench.sizes.dashboard_answers, teachers=bench.teachers()
        )
        complaints = ensure_bulk_complaints(bench.sizes.dashboard_complaints)
        return [
            Dashboard(
                label="results",
                path=reverse("assessments:results-detail", args=[questionnaire.assessment.pk]),
                cache_pattern=f"assessments:results:{questionnaire.assessment.pk}:*",
                data=f"{questionnaire.assessment.attempts.count() * ITEMS:,} answers",
            ),
            Dashboard(
                label="complaints",
                # A year: the default 30 days would read a twelfth of the complaints.
                path=reverse("complaints:dashboard") + "?days=365",
                cache_pattern="complaints:dashboard:*",
                data=f"{complaints:,} complaints",
            ),
        ]

    @staticmethod
    def measure(bench: Bench, result: ScenarioResult, dashboard: Dashboard, sessions) -> None:
        label = f"{dashboard.label} ({dashboard.data})"
        cold = []
        for _ in range(COLD_REQUESTS):
            cache.delete_pattern(dashboard.cache_pattern)
            began = time.perf_counter()
            status, _headers, _body = bench.fetch(dashboard.path, session=sessions[0])
            cold.append((time.perf_counter() - began) * 1000)
            if status != 200:
                raise RuntimeError(f"{dashboard.path} answered {status} to staff")
        cold_ms = latency_summary(cold)
        result.add(
            f"{label}: cold p50 / p95 ({COLD_REQUESTS} requests, its cache emptied before each)",
            cold_ms,
            f"{fmt_ms(cold_ms['p50'])} / {fmt_ms(cold_ms['p95'])}",
        )

        plan = [
            PlannedRequest(id=f"dash-{dashboard.label}-{n}", path=dashboard.path, session=n + 1)
            for n in range(len(sessions))
        ]
        load = bench.load(
            f"dashboard-{dashboard.label}",
            plan,
            sessions=sessions,
            seconds=bench.sizes.dashboard_s,
            connections=len(sessions),
        )
        p95 = load.latency_ms["p95"]
        result.add(
            f"{label}: warm p50 / p95 / p99",
            load.latency_ms,
            fmt_latency(load.latency_ms),
            f"p95 < {WARM_P95_GOAL_MS} ms",
            p95 < WARM_P95_GOAL_MS,
        )
        result.add(f"{label}: warm req/s ({len(sessions)} officers)", load.rate, fmt_int(load.rate))
        bench.add_app_time(result, load, f"{label}: warm")
        # A request served from the cache runs the fewest queries; a recomputation many more.
        fewest = min(load.query_counts, default=0)
        hit_rate = load.query_counts.get(fewest, 0) / load.timed if load.timed else None
        result.add(
            f"{label}: cache hit rate (warm requests with the fewest queries, {fewest})",
            hit_rate,
            fmt_pct(hit_rate),
        )
        result.add(f"{label}: errors", load.failed, fmt_int(load.failed), "= 0", not load.failed)
