"""Scenario: answer saves at fixed arrival rates, open loop.

The closed loop of the answer-save scenario gives the maximum, but its latency is the queue
that its own 256 connections build. Here saves arrive on a schedule at 25, 50, 75 and 90% of
that maximum (measured in the same run) from the answer-save scenario's teachers (10,000 in
a full run), and latency runs from each save's scheduled send time, as a teacher would wait.
Every save of this scenario has an (attempt, question) of its own, so each acknowledged
value must be in PostgreSQL.
"""

from __future__ import annotations

from django.urls import reverse

from apps.assessments.models import Answer
from bench.arrivals import Arrival
from bench.assessments import ITEMS
from bench.context import Bench
from bench.load import session_headers
from bench.report import ScenarioResult, fmt_int, fmt_latency
from bench.scenarios.answer_save import P95_GOAL_MS, SLOT_SECONDS, AnswerSave
from bench.scenarios.base import Scenario
from bench.stats import highest_rate_within

RATE_SHARES = (0.25, 0.5, 0.75, 0.9)
GOAL_SHARE = 0.75  # p95 < P95_GOAL_MS at this share of the maximum
SENDERS = 128
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def teachers_per_slot(saves_per_second: float) -> float:
    return saves_per_second * SLOT_SECONDS / ITEMS


class AnswerLatency(Scenario):
    name = "answer_latency"
    title = "Answer save, open loop"
    requires = ("answer_save",)

    def run(self, bench: Bench) -> ScenarioResult:
        given = bench.handover.get("answer_save")
        maximum = bench.throughput("answer_save")
        result = self.result()
        if not given or maximum is None or not maximum.rate:
            result.status = "not run: needs the answer-save scenario in the same run"
            return result
        attempt_ids, question_ids = given["attempt_ids"], given["question_ids"]
        # Only this scenario's saves are left to check (the closed loop's were checked).
        Answer.objects.filter(attempt_id__in=attempt_ids).delete()
        headers = [{**session_headers(s, htmx=True), **FORM} for s in given["sessions"]]
        sent, key_of, acks, phases = 0, {}, [], []
        # A short warm-up at the lowest rate opens the senders' connections; not reported.
        schedule = [(RATE_SHARES[0], bench.sizes.warmup_s, False)]
        schedule += [(share, bench.sizes.open_loop_s, True) for share in RATE_SHARES]
        for share, seconds, measured in schedule:
            rate = maximum.rate * share
            count = max(1, round(rate * seconds))
            if sent + count > len(attempt_ids) * len(question_ids):
                raise ValueError("more saves than (attempt, question) pairs: shorten the phases")
            arrivals = []
            for number in range(sent, sent + count):
                index = number % len(attempt_ids)
                attempt_id = attempt_ids[index]
                question_id = question_ids[(number // len(attempt_ids)) % len(question_ids)]
                value = 1 + number % 5
                request_id = f"open-{number}"
                key_of[request_id] = ((attempt_id, question_id), value)
                arrivals.append(
                    Arrival(
                        id=request_id,
                        path=reverse("assessments:answer", args=[attempt_id, question_id]),
                        body=f"value={value}".encode(),
                        headers=headers[index],
                    )
                )
            sent += count
            load = bench.arrivals(arrivals, rate=rate, senders=SENDERS)
            acks += [outcome.id for outcome in load.ok]
            if not measured:
                continue
            p95 = load.latency_ms.get("p95", float("inf"))
            phases.append((rate, p95 if not load.failed else float("inf")))
            label = f"{share:.0%} of the maximum ({rate:,.0f} saves/s)"
            goal = share == GOAL_SHARE
            result.add(
                f"{label}: p50 / p95 / p99",
                load.latency_ms,
                fmt_latency(load.latency_ms),
                f"p95 < {P95_GOAL_MS} ms" if goal else "",
                p95 < P95_GOAL_MS if goal else None,
            )
            result.add(
                f"{label}: errors", load.failed, fmt_int(load.failed), "= 0", not load.failed
            )
            bench.add_cpu(result, load, label)
        sessions = len(given["sessions"])
        result.add("sessions sending", sessions, fmt_int(sessions))
        raw = teachers_per_slot(maximum.rate)
        result.add(
            "teachers per 20-min slot (32 items) at the raw maximum",
            raw,
            f"{raw:,.0f} ({maximum.rate:,.0f} saves/s, closed loop)",
        )
        within = highest_rate_within(phases, P95_GOAL_MS)
        text = "none of the rates" if within is None else f"{teachers_per_slot(within):,.0f}"
        result.add(
            f"teachers per 20-min slot at p95 < {P95_GOAL_MS} ms",
            None if within is None else teachers_per_slot(within),
            text + ("" if within is None else f" ({within:,.0f} saves/s)"),
            ">= 40,000",
            within is not None and teachers_per_slot(within) >= 40_000,
        )
        AnswerSave.check(result, acks, key_of)
        return result
