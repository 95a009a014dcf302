"""Scenario: every teacher of a slot presses Start on the same assessment within a minute.

10,000 teachers (a full run) start or resume one questionnaire at a steady arrival rate
through the real Start form (POST, session cookie, CSRF). Some already have their attempt
(they resume), some have extra time (an accommodation), and every tenth presses twice.
The window closes before an accommodated time limit runs out, so both sides of
deadline = min(start + limit x accommodation, window close) are exercised. Afterwards:
exactly one attempt per (teacher, assessment, number), each start redirected to the
teacher's own attempt, every new deadline recomputed here from its start time, that start
time inside the request that made it, and resumed attempts untouched.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from apps.assessments.models import Accommodation, Attempt
from bench.arrivals import Arrival, Outcome
from bench.assessments import (
    TIME_LIMIT_MINUTES,
    attempts_create,
    questionnaire_create,
    questionnaire_delete,
)
from bench.context import Bench
from bench.load import session_headers
from bench.report import ScenarioResult, fmt_int
from bench.scenarios.base import Scenario
from bench.sessions import sessions_create

P99_GOAL_MS = 1_000
RESUME_EVERY = 4  # every 4th teacher already has the attempt (a reload, a second device)
ACCOMMODATED_EVERY = 5  # every 5th teacher has extra time
EXTRA_TIME = Decimal("1.5")
DOUBLE_CLICK_EVERY = 10
# The window closes before 1.5 x the time limit: accommodated deadlines are the window's.
WINDOW_AFTER_START = timedelta(minutes=TIME_LIMIT_MINUTES * 5 // 4)
CLOCK_SLACK = timedelta(milliseconds=50)  # the bench and the app read the same clock
ATTEMPT_IN_LOCATION = re.compile(r"/attempts/(\d+)/")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def expected_deadline(started_at: datetime, factor: Decimal, closes_at: datetime) -> datetime:
    """min(start + limit x accommodation, window close), to the whole second."""
    allowed = timedelta(seconds=int(TIME_LIMIT_MINUTES * 60 * factor))
    return min(started_at + allowed, closes_at)


def redirected_to(outcome: Outcome) -> int | None:
    """The attempt a start's redirect leads to (None: no redirect to an attempt)."""
    match = ATTEMPT_IN_LOCATION.search(outcome.location)
    return int(match.group(1)) if match else None


class StartStorm(Scenario):
    name = "start_storm"
    title = "Start storm"

    def run(self, bench: Bench) -> ScenarioResult:
        sizes = bench.sizes
        teachers = bench.teachers()[: sizes.start_teachers]
        questionnaire_delete("start-storm")
        questionnaire = questionnaire_create("start-storm")
        assignment = questionnaire.assignment
        assignment.closes_at = timezone.now() + WINDOW_AFTER_START
        assignment.save(update_fields=["closes_at"])
        Accommodation.objects.bulk_create(
            Accommodation(assignment=assignment, user=teacher, extra_time_factor=EXTRA_TIME)
            for teacher in teachers[::ACCOMMODATED_EVERY]
        )
        resumed = {
            a.user_id: (a.pk, a.started_at, a.deadline)
            for a in attempts_create(questionnaire, teachers[::RESUME_EVERY])
        }
        sessions = sessions_create(users=teachers)
        path = reverse("assessments:start", args=[questionnaire.assessment.pk])
        arrivals = []
        for number, (teacher, session) in enumerate(zip(teachers, sessions, strict=True)):
            start = Arrival(
                id=f"start-{teacher.pk}",
                path=path,
                body=b"number=1",
                headers={**session_headers(session), **FORM},
            )
            arrivals.append(start)
            if number % DOUBLE_CLICK_EVERY == 0:
                arrivals.append(replace(start, id=f"again-{teacher.pk}"))
        load = bench.arrivals(arrivals, rate=len(arrivals) / sizes.start_window_s)
        bench.record("start", load)  # its CPU per request, for the capacity model

        result = self.result()
        bench.add_storm(
            result,
            load,
            what="starts",
            window_s=sizes.start_window_s,
            p99_goal_ms=P99_GOAL_MS,
            note=f" ({len(resumed):,} resumes, {len(arrivals) - len(teachers):,} double clicks)",
        )
        bench.add_cpu(result, load)
        result.details["statuses"] = load.statuses
        accommodated = {teacher.pk for teacher in teachers[::ACCOMMODATED_EVERY]}
        self.check(result, questionnaire, load.ok, resumed, accommodated)
        return result

    @staticmethod
    def check(result, questionnaire, ok: list[Outcome], resumed: dict, accommodated: set):
        assessment, closes_at = questionnaire.assessment, questionnaire.assignment.closes_at
        by_user: dict[int, list[Outcome]] = {}
        for outcome in ok:
            by_user.setdefault(int(outcome.id.rsplit("-", 1)[1]), []).append(outcome)
        counts = dict(
            Attempt.objects.filter(assessment=assessment, number=1)
            .values_list("user_id")
            .annotate(n=Count("id"))
            .values_list("user_id", "n")
        )
        attempts = {
            a.user_id: a
            for a in Attempt.objects.filter(assessment=assessment, user_id__in=list(by_user))
        }
        result.check(
            "acknowledged starts without an attempt", sum(1 for u in by_user if u not in attempts)
        )
        result.check(
            "teachers with more than one attempt (same assessment, number 1)",
            sum(1 for n in counts.values() if n > 1),
        )
        elsewhere = sum(
            1
            for user_id, outcomes in by_user.items()
            if user_id in attempts
            for outcome in outcomes
            if redirected_to(outcome) != attempts[user_id].pk
        )
        result.check("starts redirected to another attempt (or none)", elsewhere)
        wrong_deadline = outside = changed = 0
        for user_id, attempt in attempts.items():
            if user_id in resumed:
                changed += resumed[user_id] != (attempt.pk, attempt.started_at, attempt.deadline)
                continue
            factor = EXTRA_TIME if user_id in accommodated else Decimal(1)
            wrong_deadline += attempt.deadline != expected_deadline(
                attempt.started_at, factor, closes_at
            )
            windows = [
                (o.due_at, o.due_at + o.latency_ms / 1000) for o in by_user[user_id] if o.due_at
            ]
            started = attempt.started_at.timestamp()
            slack = CLOCK_SLACK.total_seconds()
            outside += not any(low - slack <= started <= high + slack for low, high in windows)
        result.check("new attempts with a wrong deadline (recomputed here)", wrong_deadline)
        result.check("new attempts started outside the request that started them", outside)
        result.check("resumed attempts changed (start time, deadline or id)", changed)
        capped = sum(1 for a in attempts.values() if a.deadline == closes_at)
        result.add("deadlines set by the window's close (accommodated)", capped, fmt_int(capped))
