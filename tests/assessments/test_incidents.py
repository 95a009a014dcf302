"""Incident tools: extra minutes for running attempts, re-opening an auto-submitted one; by
the services, the commands and the admin actions, each with its audit rows."""

import io
import math
from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation
from rq.registry import ScheduledJobRegistry

from apps.assessments import selectors, services
from apps.assessments.models import Attempt, AttemptAdjustment
from apps.core.exceptions import Invalid
from apps.sync.models import OutboxEvent
from tests.accounts.factories import (
    BatchFactory,
    DistrictFactory,
    TeacherFactory,
    UserFactory,
    verified_login,
)
from tests.assessments.helpers import save

pytestmark = pytest.mark.django_db

REASON = "Power cut in the Kota Baru centre, 10:05-10:20 (ticket INC-42)"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def cohort(quiz):
    """Four teachers' attempts at the quiz: two in district A (batches X and Y), one in
    district B, batch X (running), and one in district A that is already submitted."""
    a, b = DistrictFactory(code="dist-a"), DistrictFactory(code="dist-b")
    x, y = BatchFactory(code="batch-x"), BatchFactory(code="batch-y")
    teachers = {
        "ax": TeacherFactory(district=a, batch=x),
        "ay": TeacherFactory(district=a, batch=y),
        "bx": TeacherFactory(district=b, batch=x),
        "done": TeacherFactory(district=a, batch=x),
    }
    attempts = {
        name: services.attempt_start(user=user, assessment_id=quiz.pk)
        for name, user in teachers.items()
    }
    services.attempt_submit(attempt_id=attempts["done"].pk, user=teachers["done"])
    return attempts


def extend(quiz, staff, **kwargs):
    return services.attempts_extend(
        assessment=quiz, minutes=kwargs.pop("minutes", 15), reason=REASON, by=staff, **kwargs
    )


def picked(adjustments) -> set[int]:
    return {row.attempt.pk for row in adjustments}


def scheduled_at(attempt) -> float | None:
    registry = ScheduledJobRegistry(queue=django_rq.get_queue("high"))
    job_id = services.auto_submit_job_id(attempt.deadline)
    if job_id not in registry.get_job_ids():
        return None
    return registry.get_scheduled_time(job_id).timestamp()


def auto_submitted(attempt) -> Attempt:
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    services.attempts_submit_expired(assessment=attempt.assessment)
    attempt.refresh_from_db()
    assert attempt.auto_submitted
    return attempt


# --- Extra minutes --------------------------------------------------------------------
def test_filters_pick_exactly_the_running_attempts_they_name(quiz, staff, cohort):
    running = {cohort[name].pk for name in ("ax", "ay", "bx")}
    a, x = cohort["ax"].user.district, cohort["ax"].user.batch
    cases = [
        ({}, running),
        ({"district": a}, {cohort["ax"].pk, cohort["ay"].pk}),
        ({"batch": x}, {cohort["ax"].pk, cohort["bx"].pk}),
        ({"district": a, "batch": x}, {cohort["ax"].pk}),
        ({"teacher": cohort["bx"].user}, {cohort["bx"].pk}),
        ({"teacher": cohort["done"].user}, set()),  # submitted: never extended
    ]
    for filters, expected in cases:
        assert picked(extend(quiz, staff, dry_run=True, **filters)) == expected, filters


def test_an_attempt_past_its_deadline_is_not_running(quiz, staff, cohort):
    Attempt.objects.filter(pk=cohort["ay"].pk).update(deadline=timezone.now())
    assert picked(extend(quiz, staff, dry_run=True)) == {cohort["ax"].pk, cohort["bx"].pk}


def test_dry_run_changes_nothing(quiz, staff, cohort, django_capture_on_commit_callbacks):
    before = dict(Attempt.objects.values_list("pk", "deadline"))
    with django_capture_on_commit_callbacks() as callbacks:
        rows = extend(quiz, staff, dry_run=True)
    assert len(rows) == 3 and all(row.pk is None for row in rows)
    assert all(row.new_deadline - row.old_deadline == timedelta(minutes=15) for row in rows)
    assert dict(Attempt.objects.values_list("pk", "deadline")) == before
    assert not AttemptAdjustment.objects.exists()
    assert callbacks == []  # no job scheduled


def test_extend_moves_deadlines_writes_audit_rows_and_reschedules(
    quiz, staff, cohort, django_capture_on_commit_callbacks
):
    old = {name: attempt.deadline for name, attempt in cohort.items()}
    with django_capture_on_commit_callbacks(execute=True):
        rows = extend(quiz, staff, minutes=20, district=cohort["ax"].user.district)
    assert picked(rows) == {cohort["ax"].pk, cohort["ay"].pk}
    for name in ("ax", "ay"):
        attempt = cohort[name]
        attempt.refresh_from_db()
        assert attempt.deadline == old[name] + timedelta(minutes=20)
        assert scheduled_at(attempt) == math.ceil(attempt.deadline.timestamp())
        row = AttemptAdjustment.objects.get(attempt=attempt)
        assert (row.kind, row.minutes, row.reason, row.by) == ("extended", 20, REASON, staff)
        assert (row.old_deadline, row.new_deadline) == (old[name], attempt.deadline)
    for name in ("bx", "done"):  # outside the district, or submitted: untouched
        cohort[name].refresh_from_db()
        assert cohort[name].deadline == old[name]
    assert AttemptAdjustment.objects.count() == 2


def test_a_changed_accommodation_keeps_the_minutes_given_since(
    quiz, staff, attempt, django_capture_on_commit_callbacks
):
    """The deadline is recomputed from the new extra-time factor, and the minutes given by
    the incident tools or an outage credit since the start are not lost in it."""
    extend(quiz, staff, minutes=15)
    with django_capture_on_commit_callbacks(execute=True):
        services.accommodation_set(
            assignment=attempt.assignment, user=attempt.user, factor=Decimal(2)
        )
    attempt.refresh_from_db()
    assert attempt.deadline == attempt.started_at + timedelta(minutes=60 + 15)
    assert scheduled_at(attempt) == math.ceil(attempt.deadline.timestamp())


def test_the_job_at_the_old_deadline_no_longer_submits(quiz, staff, attempt):
    old_deadline = attempt.deadline
    extend(quiz, staff)
    services.attempt_submit(attempt_id=attempt.pk, auto=True, now=old_deadline)
    attempt.refresh_from_db()
    assert not attempt.is_submitted


@pytest.mark.parametrize(
    ("minutes", "reason", "field"),
    [
        (0, REASON, "minutes"),
        (601, REASON, "minutes"),
        (None, REASON, "minutes"),
        (5, " ", "reason"),
    ],
)
def test_minutes_and_reason_are_checked(quiz, staff, attempt, minutes, reason, field):
    with pytest.raises(Invalid) as raised:
        services.attempts_extend(assessment=quiz, minutes=minutes, reason=reason, by=staff)
    assert field in raised.value.errors
    assert not AttemptAdjustment.objects.exists()


# --- Re-open --------------------------------------------------------------------------
def test_reopen_an_auto_submitted_attempt(quiz, staff, attempt, django_capture_on_commit_callbacks):
    save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    attempt = auto_submitted(attempt)
    old_deadline = attempt.deadline
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        row = services.attempt_reopen(attempt=attempt, minutes=10, reason=REASON, by=staff, now=now)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS and not attempt.auto_submitted
    assert attempt.submitted_at is None and attempt.total_score is None
    assert attempt.category_scores == {}
    assert attempt.deadline == now + timedelta(minutes=10)
    assert scheduled_at(attempt) == math.ceil(attempt.deadline.timestamp())
    assert (row.kind, row.old_deadline, row.new_deadline) == (
        "reopened",
        old_deadline,
        attempt.deadline,
    )
    # The saved answer is kept; submitted again, the attempt emits a second event (same key).
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    attempt.refresh_from_db()
    assert attempt.total_score == 2
    events = OutboxEvent.objects.filter(aggregate_key=f"attempt:{attempt.pk}")
    assert events.count() == 2


def test_reopen_refuses_a_running_or_teacher_submitted_attempt(staff, attempt):
    with pytest.raises(services.AttemptRefused):
        services.attempt_reopen(attempt=attempt, minutes=10, reason=REASON, by=staff)
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    with pytest.raises(services.AttemptRefused, match="not submitted automatically"):
        services.attempt_reopen(attempt=attempt, minutes=10, reason=REASON, by=staff)
    assert not AttemptAdjustment.objects.exists()


# --- Commands -------------------------------------------------------------------------
def test_extend_attempts_command_dry_run_then_for_real(quiz, staff, cohort):
    args = ["extend_attempts", quiz.slug, "--minutes", "15", "--reason", REASON]
    args += ["--by", staff.username, "--district", "dist-a"]
    out = io.StringIO()
    call_command(*args, "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and cohort["ax"].user.username in out.getvalue()
    assert lines[-1].startswith("Dry run: 2 running attempt(s)")
    assert not AttemptAdjustment.objects.exists()
    out = io.StringIO()
    call_command(*args, stdout=out)
    assert "2 running attempt(s)" in out.getvalue()
    assert AttemptAdjustment.objects.count() == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--district", "atlantis"], "Unknown district"),
        (["--batch", "nope"], "Unknown batch"),
        (["--teacher", "nobody"], "Unknown teacher"),
        # An empty filter (a script's unset variable) never widens to every attempt.
        (["--teacher", ""], "Unknown teacher"),
        (["--district", ""], "Unknown district"),
        (["--batch", ""], "Unknown batch"),
        (["--minutes", "0"], "whole number from 1 to 600"),
        (["--reason", ""], "Give the reason"),
        (["--by", "nobody"], "No staff account"),
    ],
)
def test_extend_attempts_command_errors(quiz, staff, attempt, extra, message):
    args = ["--minutes", "5", "--reason", REASON, "--by", staff.username, *extra]
    with pytest.raises(CommandError, match=message):
        call_command("extend_attempts", quiz.slug, *args)
    assert not AttemptAdjustment.objects.exists()


def test_extend_attempts_command_unknown_assessment(staff):
    with pytest.raises(CommandError, match="No assessment"):
        call_command("extend_attempts", "nope", "--minutes", "5", "--reason", "x", "--by", "x")


def test_reopen_attempt_command(staff, attempt):
    args = ["--minutes", "10", "--reason", REASON, "--by", staff.username]
    with pytest.raises(CommandError, match="No attempt"):
        call_command("reopen_attempt", "12x", *args)
    with pytest.raises(CommandError, match="not submitted automatically"):
        call_command("reopen_attempt", str(attempt.pk), *args)
    auto_submitted(attempt)
    out = io.StringIO()
    call_command("reopen_attempt", str(attempt.pk), *args, stdout=out)
    assert out.getvalue().startswith("Re-opened")
    attempt.refresh_from_db()
    assert not attempt.is_submitted


# --- Admin ----------------------------------------------------------------------------
def post_action(client, action, attempts, **fields):
    url = reverse("admin:assessments_attempt_changelist")
    data = {"action": action, "_selected_action": [a.pk for a in attempts], "index": "0"}
    response = client.post(url, {**data, **fields}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_admin_gives_extra_minutes_to_the_selected_running_attempts(client, staff, cohort):
    verified_login(client, staff)
    old = cohort["ax"].deadline
    selected = [cohort["ax"], cohort["done"]]
    shown = post_action(client, "give_extra_minutes", selected, minutes="15", reason=REASON)
    assert shown == ["1 of 2 selected attempt(s) were running and got 15 extra minute(s)."]
    cohort["ax"].refresh_from_db()
    assert cohort["ax"].deadline == old + timedelta(minutes=15)
    row = AttemptAdjustment.objects.get()
    assert (row.attempt, row.by, row.reason) == (cohort["ax"], staff, REASON)
    shown = post_action(client, "give_extra_minutes", selected, minutes="abc", reason=REASON)
    assert "whole number from 1 to 600" in shown[0]
    assert AttemptAdjustment.objects.count() == 1


def test_admin_reopens_only_auto_submitted_attempts(client, staff, cohort):
    verified_login(client, staff)
    auto = auto_submitted(cohort["ax"])
    selected = [auto, cohort["done"]]
    shown = post_action(client, "reopen", selected, minutes="10", reason="")
    assert "Give the reason" in shown[0]
    shown = post_action(client, "reopen", selected, minutes="10", reason=REASON)
    assert any("not submitted automatically" in m for m in shown)
    assert "1 attempt(s) re-opened." in shown
    auto.refresh_from_db()
    assert not auto.is_submitted
    page = client.get(reverse("admin:assessments_attempt_change", args=[auto.pk]))
    assert REASON in page.content.decode()
    assert client.get(reverse("admin:assessments_attemptadjustment_changelist")).status_code == 200


def test_a_refusal_reads_in_the_staff_members_language(staff, attempt):
    with translation.override("ms"), pytest.raises(services.AttemptRefused) as raised:
        services.attempt_reopen(attempt=attempt, minutes=10, reason=REASON, by=staff)
    assert raised.value.message == (
        f"Percubaan {attempt.pk} tidak dihantar secara automatik: hanya percubaan sedemikian "
        "boleh dibuka semula."
    )


def test_an_attempt_extended_past_its_window_stays_on_the_teachers_dashboard(
    client, quiz, staff, attempt
):
    """The window closes (the incident ran to its end) while the teacher has extra time:
    the dashboard still offers "Continue", closing at the attempt's own deadline."""
    extend(quiz, staff, minutes=30)
    attempt.refresh_from_db()
    quiz.window.closes_at = timezone.now() - timedelta(minutes=1)
    quiz.window.save(update_fields=["closes_at"])
    services.dashboard_invalidate()
    client.force_login(attempt.user)
    page = client.get(reverse("assessments:dashboard")).content.decode()
    assert reverse("assessments:take", args=[attempt.pk]) in page
    board = selectors.teacher_dashboard(user=attempt.user, now=timezone.now())
    assert [(e.running.pk, e.closes_at) for e in board.open] == [(attempt.pk, attempt.deadline)]
