"""Scenario 3: the submission storm's outbox delivered by 4 RQ workers to the fake records API,
which allows 10 requests per second; then a fresh outbox with 5% of the calls failing (503).

At 10 requests/s the storm's 10,000 events take 1,000 s, so the first part measures a window
of the drain: delivery rate as a share of the limit, 429s we caused, duplicates at the
remote, remote calls per delivered submission. Before the second part the storm's events
still pending are removed; the second part then runs until every event is delivered.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.test import override_settings

from apps.assessments.services import attempt_submit
from apps.sync import services as sync_services
from apps.sync.models import OutboxEvent
from bench.assessments import (
    answers_fill,
    attempts_create,
    questionnaire_create,
    questionnaire_delete,
)
from bench.context import Bench
from bench.report import ScenarioResult, fmt_int, fmt_pct
from bench.scenarios.base import Scenario

CONNECTOR = "records"
REMOTE_RATE = 10
REMOTE_LATENCY_MS = 20
WORKERS = 4
SHARE_GOAL = 0.9
FAIL_RATE = 0.05
WORKER_ENV = {
    "SYNC_RECORDS_APP_ID": "bench-app",
    "SYNC_RECORDS_API_KEY": "bench-key",
    # Retried rows are picked up by the periodic sweep: every 5 s here instead of 30 s, so
    # the all-delivered check fits in the run (the backoff itself is unchanged).
    "SYNC_SWEEP_SECONDS": "5",
}


class Remote:
    """The fake records API: its stats and its fault switches."""

    def __init__(self, url: str):
        self.url = url

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/__stats", timeout=5) as response:
            return json.load(response)

    def control(self, **changes) -> None:
        request = urllib.request.Request(
            f"{self.url}/__control",
            data=json.dumps(changes).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()


@dataclass(frozen=True)
class Drained:
    done: int  # events delivered in `seconds`
    seconds: float
    settled: int  # events delivered once the workers stopped
    before: dict  # the remote's stats at the start and at the end
    after: dict

    def count(self, name: str) -> int:
        return self.after["counts"].get(name, 0) - self.before["counts"].get(name, 0)


class SyncDrain(Scenario):
    name = "sync_drain"
    title = "Sync drain"

    def run(self, bench: Bench) -> ScenarioResult:
        result = self.result()
        _process, url = bench.stack.start_helper(
            "fake-records-api",
            "doubles.records_api",
            "--rate", str(REMOTE_RATE),
            "--daily-quota", "10000000",
            "--latency-ms", str(REMOTE_LATENCY_MS),
            "--app-id", WORKER_ENV["SYNC_RECORDS_APP_ID"],
            "--api-key", WORKER_ENV["SYNC_RECORDS_API_KEY"],
        )  # fmt: skip
        remote = Remote(url)
        env = {**WORKER_ENV, "SYNC_RECORDS_BASE_URL": url}
        # This process enqueues the delivery jobs (the kick on commit, the pause switch), and
        # only does so for a configured connector: it sees the workers' configuration too.
        connectors = copy.deepcopy(settings.SYNC_CONNECTORS)
        connectors[CONNECTOR].update(
            BASE_URL=url, APP_ID=env["SYNC_RECORDS_APP_ID"], API_KEY=env["SYNC_RECORDS_API_KEY"]
        )
        with override_settings(SYNC_CONNECTORS=connectors):
            # Paused while the outbox fills: nothing is delivered before the measured window.
            sync_services.connector_pause(connector=CONNECTOR, paused=True, reason="bench")
            keys = self.storm_keys(bench)
            # Events other scenarios left undelivered (the fragments' real submit, earlier
            # runs') would be delivered in the window and counted as calls of this outbox.
            OutboxEvent.objects.exclude(aggregate_key__in=keys).exclude(
                status=OutboxEvent.Status.DELIVERED
            ).delete()
            self.window(bench, result, remote, env, keys)
            OutboxEvent.objects.filter(aggregate_key__in=keys).exclude(
                status=OutboxEvent.Status.DELIVERED
            ).delete()
            self.with_faults(bench, result, remote, env)
        return result

    def storm_keys(self, bench: Bench) -> list[str]:
        """The submission storm's outbox, or (when run alone) a smaller one of its own."""
        attempt_ids = bench.handover.get("storm_attempt_ids")
        if not attempt_ids:
            count = round(bench.sizes.sync_drain_s * REMOTE_RATE * 1.5)
            attempt_ids = self.submitted_attempts(bench, "sync-drain", count)
        return [f"attempt:{pk}" for pk in attempt_ids]

    @staticmethod
    def submitted_attempts(bench: Bench, slug: str, count: int) -> list[int]:
        """`count` attempts submitted through the real service (one outbox event each)."""
        questionnaire_delete(slug)
        questionnaire = questionnaire_create(slug)
        attempts = attempts_create(questionnaire, bench.teachers()[:count])
        answers_fill(questionnaire, [a.pk for a in attempts])
        for attempt in attempts:
            attempt_submit(attempt_id=attempt.pk, user=attempt.user)
        return [attempt.pk for attempt in attempts]

    @staticmethod
    def delivered(keys: list[str]) -> int:
        return OutboxEvent.objects.filter(
            aggregate_key__in=keys, status=OutboxEvent.Status.DELIVERED
        ).count()

    def drain(self, bench: Bench, remote: Remote, env: dict, keys: list[str], until) -> Drained:
        """Workers deliver until `until(delivered, seconds)` says stop; then the connector is
        paused and the workers finish what they hold. The rate counts deliveries up to the
        stop; calls and deliveries are compared once everything in flight has settled."""
        bench.stack.start_workers(WORKERS, extra_env=env)
        before, delivered, began = remote.stats(), self.delivered(keys), time.monotonic()
        sync_services.connector_pause(connector=CONNECTOR, paused=False)  # kicks delivery
        while not until(self.delivered(keys) - delivered, time.monotonic() - began):
            time.sleep(0.5)
        done, seconds = self.delivered(keys) - delivered, time.monotonic() - began
        # Paused, the delivery jobs end after the rows they hold, so the workers stop soon.
        sync_services.connector_pause(connector=CONNECTOR, paused=True, reason="bench")
        bench.stack.stop_workers()
        return Drained(
            done=done,
            seconds=seconds,
            settled=self.delivered(keys) - delivered,
            before=before,
            after=remote.stats(),
        )

    def window(self, bench, result: ScenarioResult, remote: Remote, env, keys) -> None:
        window_s = bench.sizes.sync_drain_s
        drained = self.drain(bench, remote, env, keys, lambda n, s: s >= window_s)
        rate = drained.done / drained.seconds
        result.add(
            f"delivered in {drained.seconds:.0f} s of the storm's outbox",
            drained.done,
            f"{drained.done:,} = {rate:.2f}/s = {fmt_pct(rate / REMOTE_RATE)} of the limit",
            f">= {fmt_pct(SHARE_GOAL)} of {REMOTE_RATE}/s",
            rate / REMOTE_RATE >= SHARE_GOAL,
        )
        self.add_remote_checks(result, drained, calls_goal=True)

    def with_faults(self, bench, result: ScenarioResult, remote: Remote, env) -> None:
        count = bench.sizes.sync_fault_events
        keys = [f"attempt:{pk}" for pk in self.submitted_attempts(bench, "sync-faults", count)]
        remote.control(fail_rate=FAIL_RATE)
        limit = count / REMOTE_RATE * 3 + 60
        drained = self.drain(bench, remote, env, keys, lambda n, s: n >= count or s >= limit)
        remote.control(fail_rate=0.0)
        failed = drained.count("injected_503")
        result.add(
            f"with {fmt_pct(FAIL_RATE)} 503s: delivered",
            drained.settled,
            f"{drained.settled:,} of {count:,} in {drained.seconds:.0f} s "
            f"({failed} failed calls retried)",
            "all",
            drained.settled == count,
        )
        self.add_remote_checks(result, drained, calls_goal=False, label="with 503s: ")

    @staticmethod
    def add_remote_checks(result, drained: Drained, *, calls_goal: bool, label="") -> None:
        result.check(f"{label}429s caused by us", drained.count("rate_limited"))
        result.check(f"{label}duplicate records at the remote", drained.after["duplicates"])
        calls = drained.count("calls")
        per = calls / drained.settled if drained.settled else None
        result.add(
            f"{label}remote calls per submission",
            per,
            "n/a" if per is None else f"{per:.2f} ({calls:,} calls)",
            "<= 1" if calls_goal else "",
            (per is not None and per <= 1) if calls_goal else None,
        )
        methods = ("GET", "POST", "PUT", "DELETE")
        result.details[f"{label}calls by method"] = {m: drained.count(m) for m in methods}
        busiest = drained.after["max_calls_in_a_second"]
        result.add(f"{label}most calls in one second (whole run)", busiest, fmt_int(busiest))
