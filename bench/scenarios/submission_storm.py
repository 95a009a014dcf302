"""Scenario 2: every teacher of a slot submits within the same 30 seconds.

10,000 attempts with 32 saved answers each (written in bulk beforehand) are submitted at a
steady arrival rate through the real HTMX submit endpoint. Afterwards: one submission and
one outbox event per attempt, and the scores of a sample recomputed in Python from the
saved answers. The outbox is handed to the sync drain.
"""

from __future__ import annotations

import random
from dataclasses import replace

from django.urls import reverse

from apps.assessments.models import Answer, Attempt
from bench.arrivals import Arrival
from bench.assessments import (
    answers_fill,
    attempts_create,
    expected_scores,
    outbox_for,
    questionnaire_create,
    questionnaire_delete,
)
from bench.context import Bench
from bench.load import session_headers
from bench.report import ScenarioResult, fmt_int
from bench.scenarios.base import Scenario
from bench.sessions import sessions_create, sessions_with_grants

P99_GOAL_MS = 1_000
SCORE_SAMPLE = 200
DOUBLE_CLICK_EVERY = 10  # every 10th teacher's submit is sent twice


class SubmissionStorm(Scenario):
    name = "submission_storm"
    title = "Submission storm"

    def run(self, bench: Bench) -> ScenarioResult:
        sizes = bench.sizes
        teachers = bench.teachers()[-sizes.storm_attempts :]
        questionnaire_delete("storm")
        questionnaire = questionnaire_create("storm")
        attempts = attempts_create(questionnaire, teachers)
        attempt_ids = [a.pk for a in attempts]
        answers_fill(questionnaire, attempt_ids)
        # Each with the grant its take and review pages carry, which the submit sends too.
        sessions = sessions_with_grants(sessions_create(users=teachers), attempts)
        arrivals = []
        for number, (attempt_id, session) in enumerate(zip(attempt_ids, sessions, strict=True)):
            submit = Arrival(
                id=f"submit-{attempt_id}",
                path=reverse("assessments:submit", args=[attempt_id]),
                headers=session_headers(session, htmx=True),
            )
            arrivals.append(submit)
            if number % DOUBLE_CLICK_EVERY == 0:  # the same POST again, while the first runs
                arrivals.append(replace(submit, id=f"again-{attempt_id}"))
        load = bench.arrivals(arrivals, rate=len(arrivals) / sizes.storm_window_s)
        bench.record("submit", load)  # its CPU per request, for the capacity model

        result = self.result()
        bench.add_storm(
            result, load, what="submits", window_s=sizes.storm_window_s, p99_goal_ms=P99_GOAL_MS
        )
        doubled = sum(1 for a in arrivals if a.id.startswith("again-"))
        result.add("double submits (the same POST twice)", doubled, fmt_int(doubled))
        bench.add_cpu(result, load)
        result.details["statuses"] = load.statuses
        acknowledged = {int(o.id.rsplit("-", 1)[1]) for o in load.ok}
        self.check(result, questionnaire, attempt_ids, acknowledged)
        bench.handover["storm_attempt_ids"] = attempt_ids
        return result

    @staticmethod
    def check(result: ScenarioResult, questionnaire, attempt_ids: list[int], acknowledged: set):
        submitted = set(
            Attempt.objects.filter(pk__in=attempt_ids, status=Attempt.Status.SUBMITTED).values_list(
                "pk", flat=True
            )
        )
        events = outbox_for(attempt_ids)
        result.check("acknowledged submits not submitted", len(acknowledged - submitted))
        result.check(
            "attempts with more than one submission event", sum(n > 1 for n in events.values())
        )
        result.check(  # one per submitted attempt: none lost, none doubled
            "outbox rows written",
            sum(events.values()),
            f"{sum(events.values()):,} for {len(submitted):,} submits",
            expected=len(submitted),
        )
        sample = random.Random(6).sample(attempt_ids, min(SCORE_SAMPLE, len(attempt_ids)))
        position = {q.pk: q.position for q in questionnaire.questions}
        values: dict[int, dict[int, int]] = {pk: {} for pk in sample}
        for attempt_id, question_id, value in Answer.objects.filter(
            attempt_id__in=sample, answered=True
        ).values_list("attempt_id", "question_id", "value"):
            values[attempt_id][position[question_id]] = value
        wrong = 0
        for attempt in Attempt.objects.filter(pk__in=sample, status=Attempt.Status.SUBMITTED):
            expected = expected_scores(questionnaire, values[attempt.pk])
            stored = (attempt.total_score, attempt.percent, attempt.category_scores)
            wrong += stored != (expected.total, expected.percent, expected.categories)
        result.check(f"scores wrong in a sample of {len(sample)} (recomputed in Python)", wrong)
