"""Scenario 1: teachers saving answers to their own attempts as fast as the server allows.

Each wrk connection plays teachers taken in turn (never two requests of one teacher in
flight); every save posts a Likert value through the real HTMX endpoint. Afterwards the
last value acknowledged for each (attempt, question) must be the one in PostgreSQL. A second,
shorter pass runs under py-spy to show where the time goes.
"""

from __future__ import annotations

import time

from django.urls import reverse

from apps.assessments.models import Answer
from apps.assessments.selectors import attempt_meta_remember
from bench.assessments import ITEMS, attempts_create, questionnaire_create, questionnaire_delete
from bench.context import Bench
from bench.load import LoadResult, PlannedRequest
from bench.profile import profile_markdown, start_profiler, summarize_collapsed
from bench.report import ScenarioResult, fmt_bytes, fmt_int, fmt_latency, fmt_ms
from bench.scenarios.base import Scenario
from bench.sessions import sessions_create, sessions_with_grants
from bench.stats import last_acknowledged

SAVES_PER_SECOND_GOAL = 1_100
P95_GOAL_MS = 100
QUERIES_GOAL = 3
FRAGMENT_BYTES_GOAL = 1_000  # "a few hundred bytes"
SLOT_SECONDS = 20 * 60  # 40,000 teachers x 32 items in 20 minutes = the goal above
PLAN_RATE_CAP = 2_500  # plan lines per second of load; the plan repeats beyond that


class AnswerSave(Scenario):
    name = "answer_save"
    title = "Answer save"
    repeatable = True

    def run(self, bench: Bench) -> ScenarioResult:
        sizes = bench.sizes
        teachers = bench.teachers()[: sizes.answer_sessions]
        questionnaire_delete("answer-save")
        questionnaire = questionnaire_create("answer-save")
        attempts = attempts_create(questionnaire, teachers)
        for attempt in attempts:  # what each teacher's question page does before a save
            attempt_meta_remember(attempt=attempt)
        # Each browser sends the save grant its take page carries, as the page's script does.
        sessions = sessions_with_grants(sessions_create(users=teachers), attempts)
        seconds = sizes.warmup_s + sizes.answer_save_s + sizes.profile_s
        plan, key_of = self.plan([a.pk for a in attempts], questionnaire.question_ids(), seconds)

        load = bench.load("answer-save", plan, sessions=sessions, seconds=sizes.answer_save_s)
        bench.record("answer_save", load)
        result = self.result()
        self.report_load(bench, result, load)
        acks = list(load.acks)
        if sizes.profile_s:
            acks += self.profile(bench, result, plan, sessions)
        self.check(result, acks, key_of)
        # The open-loop latency scenario sends saves from these teachers.
        bench.handover["answer_save"] = {
            "attempt_ids": [a.pk for a in attempts],
            "question_ids": questionnaire.question_ids(),
            "sessions": sessions,
        }
        return result

    @staticmethod
    def plan(attempt_ids: list[int], question_ids: list[int], seconds: float):
        """Round r gives every attempt one save, on a question that moves on each round
        and a value that changes, so later saves overwrite earlier ones."""
        rounds = max(1, round(PLAN_RATE_CAP * seconds / len(attempt_ids)))
        plan, key_of = [], {}
        for r in range(rounds):
            for index, attempt_id in enumerate(attempt_ids):
                question_id = question_ids[(r + index) % len(question_ids)]
                value = 1 + (r + index * 7) % 5
                request_id = f"save-{r}-{index}"
                key_of[request_id] = ((attempt_id, question_id), value)
                plan.append(
                    PlannedRequest(
                        id=request_id,
                        method="POST",
                        path=reverse("assessments:answer", args=[attempt_id, question_id]),
                        session=index + 1,
                        body=f"value={value}",
                        htmx=True,
                    )
                )
        return plan, key_of

    @staticmethod
    def report_load(bench: Bench, result: ScenarioResult, load: LoadResult) -> None:
        p95 = load.latency_ms["p95"]
        queries = load.queries_per_request
        result.add(
            "saves/s",
            load.rate,
            fmt_int(load.rate),
            f">= {SAVES_PER_SECOND_GOAL:,}",
            load.rate >= SAVES_PER_SECOND_GOAL,
        )
        result.add(
            "p50 / p95 / p99",
            load.latency_ms,
            fmt_latency(load.latency_ms),
            f"p95 < {P95_GOAL_MS} ms",
            p95 < P95_GOAL_MS,
        )
        result.add(
            "errors (non-2xx, socket)", load.failed, fmt_int(load.failed), "= 0", not load.failed
        )
        bench.add_ceiling_ratios(result, load.rate)
        result.add(
            "SQL queries per save",
            queries,
            "n/a" if queries is None else f"{queries:.2f}",
            f"<= {QUERIES_GOAL}",
            None if queries is None else queries <= QUERIES_GOAL,
        )
        app_ms = load.server_ms_per_request
        result.add("app time per save (Server-Timing)", app_ms, fmt_ms(app_ms))
        result.add(
            "bytes per response (body)",
            load.bytes_per_response,
            fmt_bytes(load.bytes_per_response),
            "a few hundred bytes",
            load.bytes_per_response < FRAGMENT_BYTES_GOAL,
        )
        teachers = load.rate * SLOT_SECONDS / ITEMS
        result.add(
            "teachers per 20-min slot (32 items)",
            teachers,
            fmt_int(teachers),
            ">= 40,000",
            teachers >= 40_000,
        )
        bench.add_cpu(result, load)
        result.details["statuses"] = load.statuses
        result.details["errors"] = load.errors

    @staticmethod
    def profile(bench: Bench, result: ScenarioResult, plan, sessions) -> list[str]:
        """A second pass with py-spy sampling every web worker; returns its acks."""
        out = bench.workdir / "answer-save.pyspy.txt"
        profiler = start_profiler(
            master_pid=bench.stack.web.pid, seconds=bench.sizes.profile_s, out=out
        )
        if profiler is None:
            result.details["profile"] = "py-spy not installed"
            return []
        try:
            time.sleep(0.5)  # py-spy attaches
            load = bench.load(
                "answer-save-profiled",
                plan,
                sessions=sessions,
                seconds=bench.sizes.profile_s,
                warmup=False,
            )
            profiler.wait(timeout=60)
        finally:
            if profiler.poll() is None:  # never left behind, even on an error
                profiler.kill()
                profiler.wait()
        summary = summarize_collapsed(out.read_text() if out.exists() else "")
        result.details["profile"] = {
            "samples": summary.samples,
            "saves_per_second_while_profiled": load.rate,
            "packages": summary.packages,
            "own": summary.own,
            "inclusive": summary.inclusive,
        }
        lines = profile_markdown(
            summary,
            "Profile: answer save (py-spy on every web worker)",
            f"{bench.sizes.profile_s:.0f} s of the answer-save load ({load.rate:,.0f} saves/s "
            "while sampled; --gil: only the thread holding each worker's GIL, i.e. Python "
            "CPU, not waits on PostgreSQL or Valkey). Own time: the function running.",
        )
        result.details.setdefault("markdown", []).extend(lines)
        return load.acks

    @staticmethod
    def check(result: ScenarioResult, acks: list[str], key_of: dict) -> None:
        """Every acknowledged save is in PostgreSQL with the last acknowledged value."""
        keys = {request_id: key for request_id, (key, _value) in key_of.items()}
        last = last_acknowledged(acks, keys)
        attempt_ids = {attempt_id for attempt_id, _question in last}
        stored = {
            (attempt_id, question_id): value
            for attempt_id, question_id, value in Answer.objects.filter(
                attempt_id__in=attempt_ids
            ).values_list("attempt_id", "question_id", "value")
        }
        missing = sum(1 for key in last if key not in stored)
        wrong = sum(
            1
            for key, request_id in last.items()
            if key in stored and stored[key] != key_of[request_id][1]
        )
        result.add(
            "acknowledged saves checked", len(acks), f"{len(acks):,} acks, {len(last):,} answers"
        )
        result.check("acknowledged answers missing in PostgreSQL", missing)
        result.check("answers with another value than acknowledged", wrong)
