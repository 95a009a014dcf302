"""Automatic time credit for server-side outages (services/outages.py): a gap in the web
heartbeat longer than the minimum is found by the recovery sweep and credited once to the
attempts that ran through it, audited, with the auto-submit moved; the teacher sees why."""

import logging
import math
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.assessments import services
from apps.assessments.models import Attempt, AttemptAdjustment
from apps.assessments.services import outages
from apps.core import heartbeat, recovery
from apps.core.models import ServiceInterval, ServiceOutage
from tests.accounts.factories import TeacherFactory
from tests.assessments.helpers import in_threads
from tests.assessments.test_incidents import scheduled_at
from tests.core.test_heartbeat import wait_until

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def minutes(n: float):
    return NOW - timedelta(minutes=n)


def web_up(start, end):
    return ServiceInterval.objects.create(role="web", started_at=start, last_seen=end)


@pytest.fixture
def outage():
    """The web heartbeat went silent from 8 minutes ago to 2 minutes ago: a 6-minute gap."""
    web_up(minutes(90), minutes(8))
    web_up(minutes(2), NOW)


def attempt_at(quiz, *, started, deadline, status=Attempt.Status.IN_PROGRESS, auto=False):
    attempt = services.attempt_start(user=TeacherFactory(), assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=started,
        deadline=deadline,
        status=status,
        auto_submitted=auto,
        submitted_at=min(deadline, NOW) if status == Attempt.Status.SUBMITTED else None,
    )
    attempt.refresh_from_db()
    return attempt


def credit(capture):
    with capture(execute=True):
        return services.outages_credit(now=NOW)


def test_every_attempt_running_through_the_gap_gets_it_once(
    quiz, outage, django_capture_on_commit_callbacks
):
    submitted = Attempt.Status.SUBMITTED
    running = attempt_at(quiz, started=minutes(30), deadline=minutes(-10))
    after = attempt_at(quiz, started=minutes(1), deadline=minutes(-29))  # began after the gap
    before = attempt_at(
        quiz, started=minutes(60), deadline=minutes(20), status=submitted, auto=True
    )
    by_teacher = attempt_at(quiz, started=minutes(30), deadline=minutes(-10), status=submitted)
    due_in_gap = attempt_at(
        quiz, started=minutes(40), deadline=minutes(5), status=submitted, auto=True
    )
    spent = attempt_at(
        quiz, started=minutes(40), deadline=minutes(7.5), status=submitted, auto=True
    )
    untouched = {a.pk: (a.status, a.deadline) for a in (after, before, by_teacher, spent)}

    assert credit(django_capture_on_commit_callbacks) == 2
    running.refresh_from_db()
    assert running.deadline == minutes(-16)  # + the 6 minutes of the gap
    due_in_gap.refresh_from_db()  # submitted automatically during the gap: re-opened
    assert due_in_gap.status == Attempt.Status.IN_PROGRESS and not due_in_gap.auto_submitted
    assert due_in_gap.deadline == minutes(-1) and due_in_gap.total_score is None
    for attempt in Attempt.objects.filter(pk__in=untouched):
        assert (attempt.status, attempt.deadline) == untouched[attempt.pk]

    outage_row = ServiceOutage.objects.get()
    assert (outage_row.started_at, outage_row.ended_at) == (minutes(8), minutes(2))
    assert outage_row.credited_at == NOW and outage_row.attempts_credited == 2
    rows = AttemptAdjustment.objects.order_by("attempt_id")
    assert [(r.attempt_id, r.kind, r.minutes, r.by, r.outage_id) for r in rows] == [
        (a.pk, AttemptAdjustment.Kind.OUTAGE, 6, None, outage_row.pk) for a in (running, due_in_gap)
    ]
    assert rows[0].old_deadline == minutes(-10) and rows[0].new_deadline == minutes(-16)
    assert rows[0].reason.startswith("Service interruption ")
    # The auto-submits moved with the deadlines.
    assert scheduled_at(running) == math.ceil(running.deadline.timestamp())
    assert scheduled_at(due_in_gap) == math.ceil(due_in_gap.deadline.timestamp())

    # Sweeping again credits nothing more.
    assert credit(django_capture_on_commit_callbacks) == 0
    running.refresh_from_db()
    assert running.deadline == minutes(-16) and AttemptAdjustment.objects.count() == 2


def test_an_attempt_the_teacher_moved_on_from_stays_submitted(
    quiz, outage, django_capture_on_commit_callbacks
):
    """Submitted automatically during the gap, then the teacher started their next attempt
    before the credit came: re-opening the first would leave two running."""
    first = attempt_at(
        quiz, started=minutes(40), deadline=minutes(5), status=Attempt.Status.SUBMITTED, auto=True
    )
    second = services.attempt_start(user=first.user, assessment_id=quiz.pk, number=2)
    assert credit(django_capture_on_commit_callbacks) == 0
    first.refresh_from_db()
    assert first.status == Attempt.Status.SUBMITTED and first.deadline == minutes(5)
    assert not AttemptAdjustment.objects.filter(attempt__in=[first, second]).exists()


def test_a_teachers_own_lost_connection_earns_nothing(quiz, django_capture_on_commit_callbacks):
    """The teacher's page was offline for 20 minutes, the service was not: no gap."""
    web_up(minutes(90), NOW)
    attempt = attempt_at(quiz, started=minutes(30), deadline=minutes(-10))
    assert credit(django_capture_on_commit_callbacks) == 0
    attempt.refresh_from_db()
    assert attempt.deadline == minutes(-10)
    assert not ServiceOutage.objects.exists() and not AttemptAdjustment.objects.exists()


def test_a_gap_shorter_than_the_minimum_is_no_outage(
    quiz, settings, django_capture_on_commit_callbacks
):
    settings.ASSESSMENTS_OUTAGE_MIN_SECONDS = 60
    web_up(minutes(90), minutes(3))
    web_up(minutes(2.5), NOW)  # 30 s of silence
    attempt = attempt_at(quiz, started=minutes(30), deadline=minutes(-10))
    assert credit(django_capture_on_commit_callbacks) == 0
    attempt.refresh_from_db()
    assert attempt.deadline == minutes(-10) and not ServiceOutage.objects.exists()


def test_the_credit_is_capped(quiz, settings, django_capture_on_commit_callbacks):
    settings.ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS = 20 * 60
    web_up(minutes(300), minutes(150))
    web_up(minutes(30), NOW)  # two hours down
    running = attempt_at(quiz, started=minutes(160), deadline=minutes(-5))
    spent = attempt_at(quiz, started=minutes(200), deadline=minutes(100))
    assert credit(django_capture_on_commit_callbacks) == 1
    running.refresh_from_db()
    assert running.deadline == minutes(-25) and running.adjustments.get().minutes == 20
    spent.refresh_from_db()  # deadline + 20 minutes is still past: nothing to gain
    assert spent.deadline == minutes(100) and not spent.adjustments.exists()


def test_the_credit_is_the_gap_rounded_up_to_whole_minutes(
    quiz, django_capture_on_commit_callbacks
):
    web_up(minutes(20), minutes(10))
    web_up(minutes(8.5), NOW)  # a 90-second gap: 2 minutes
    running = attempt_at(quiz, started=minutes(15), deadline=minutes(-5))
    credit(django_capture_on_commit_callbacks)
    running.refresh_from_db()
    assert running.adjustments.get().minutes == 2 and running.deadline == minutes(-7)


def test_the_recovery_sweep_credits_before_it_submits(
    quiz, outage, django_capture_on_commit_callbacks
):
    """The worker was down too: an attempt whose deadline fell in the gap is still running
    when the service is back, and gets its time instead of being submitted."""
    stuck = attempt_at(quiz, started=minutes(40), deadline=minutes(4))
    with django_capture_on_commit_callbacks(execute=True):
        done = recovery.recovery_sweep()
    assert done["attempts credited for an outage"] == 1 and done["attempts submitted"] == 0
    stuck.refresh_from_db()
    assert stuck.status == Attempt.Status.IN_PROGRESS
    assert stuck.deadline == minutes(-2)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_credit_each_outage_once(quiz):
    web_up(minutes(90), minutes(8))
    web_up(minutes(2), NOW)
    attempts = [attempt_at(quiz, started=minutes(30), deadline=minutes(-10)) for _ in range(5)]
    errors = in_threads(lambda: services.outages_credit(now=NOW), count=4)
    assert errors == []
    assert ServiceOutage.objects.get().attempts_credited == 5
    for attempt in attempts:
        attempt.refresh_from_db()
        assert attempt.deadline == minutes(-16)
        assert attempt.adjustments.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_credit_racing_extend_attempts_gives_both_once(quiz):
    """Staff give 15 minutes while the credit runs twice (the beat's and the sweep's): each
    attempt ends up with both, each once and audited once, whatever the order."""
    staff = TeacherFactory(is_staff=True)
    web_up(minutes(90), minutes(8))
    web_up(minutes(2), NOW)
    attempts = [attempt_at(quiz, started=minutes(30), deadline=minutes(-10)) for _ in range(5)]

    def extend():
        services.attempts_extend(assessment=quiz, minutes=15, reason="INC-7", by=staff)

    def credit():
        services.outages_credit(now=NOW)

    assert in_threads(credit, extend, credit) == []
    for attempt in attempts:
        attempt.refresh_from_db()
        assert attempt.deadline == minutes(-10 - 6 - 15)
        kinds = sorted(attempt.adjustments.values_list("kind", flat=True))
        assert kinds == [AttemptAdjustment.Kind.EXTENDED, AttemptAdjustment.Kind.OUTAGE]


# --- What the teacher sees ------------------------------------------------------------------
@pytest.fixture
def credited(quiz, outage, teacher, django_capture_on_commit_callbacks):
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(started_at=minutes(20))
    credit(django_capture_on_commit_callbacks)
    attempt.refresh_from_db()
    return attempt


def test_the_take_page_says_why_the_time_grew(client, teacher, credited):
    client.force_login(teacher)
    page = client.get(reverse("assessments:take", args=[credited.pk])).content.decode()
    assert "+6 min for a service interruption" in page
    review = client.get(reverse("assessments:review", args=[credited.pk])).content.decode()
    assert "+6 min for a service interruption" in review


def test_the_note_reads_in_malay(client, teacher, credited):
    client.force_login(teacher)
    url = reverse("assessments:take", args=[credited.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ms").content.decode()
    assert "+6 min untuk gangguan perkhidmatan" in page


def test_without_a_credit_there_is_no_note(client, teacher, quiz):
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    client.force_login(teacher)
    page = client.get(reverse("assessments:take", args=[attempt.pk])).content.decode()
    assert 'id="time-credit"' in page and "service interruption" not in page


def test_the_timer_check_gives_the_new_time_and_the_note(
    client, teacher, credited, django_assert_num_queries
):
    client.force_login(teacher)
    url = reverse("assessments:time", args=[credited.pk])
    client.get(url)  # the user cached
    with django_assert_num_queries(1):  # the attempt with its credit
        response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    left = int(body.split('data-seconds-left="')[1].split('"')[0])
    expected = (credited.deadline - timezone.now()).total_seconds()
    assert abs(left - expected) <= 2
    assert "+6 min for a service interruption" in body


def test_the_timer_check_of_a_finished_or_foreign_attempt(client, teacher, other_teacher, credited):
    client.force_login(other_teacher)
    assert client.get(reverse("assessments:time", args=[credited.pk])).status_code == 404
    services.attempt_submit(attempt_id=credited.pk, user=teacher)
    client.force_login(teacher)
    body = client.get(reverse("assessments:time", args=[credited.pk])).content.decode()
    assert 'data-seconds-left="0"' in body


@pytest.mark.django_db(transaction=True)
def test_end_to_end_a_real_heartbeat_thread_through_a_database_outage(quiz, settings, monkeypatch):
    """The web's heartbeat thread beats, cannot reach PostgreSQL for a few seconds (a real
    client pointed at a port nothing listens on), beats again, and that first beat credits
    the running attempt once; the sweep after it finds nothing more."""
    settings.SERVICE_HEARTBEAT_SECONDS = 1
    settings.ASSESSMENTS_OUTAGE_MIN_SECONDS = 3
    real = heartbeat._connection_params
    attempt = services.attempt_start(user=TeacherFactory(), assessment_id=quiz.pk)
    deadline = attempt.deadline
    thread = heartbeat.Heartbeat("web")
    thread.start()
    try:
        wait_until(lambda: ServiceInterval.objects.exists(), "the first beat")
        monkeypatch.setattr(heartbeat, "_connection_params", lambda: {**real(), "port": 1})
        time.sleep(5)
        monkeypatch.setattr(heartbeat, "_connection_params", real)
        wait_until(lambda: ServiceInterval.objects.count() == 2, "a beat after the outage")
        # The first beat after the outage credits it at once (a thread of its own).
        wait_until(
            lambda: ServiceOutage.objects.filter(credited_at__isnull=False).exists(), "credit"
        )
    finally:
        thread.stop()
        thread.join(5)
    assert services.outages_credit() == 0  # the sweep finds nothing more to do
    gap = ServiceOutage.objects.get()
    assert 3 < gap.seconds < 10 and gap.attempts_credited == 1
    attempt.refresh_from_db()
    assert attempt.deadline == deadline + timedelta(minutes=1)


# --- Right after the outage: the credit comes at once, and nothing is dropped meanwhile ---
@pytest.mark.django_db(transaction=True)  # the beat and the credit use connections of their own
def test_the_first_web_beat_after_a_gap_credits_at_once(quiz, settings):
    """The web nodes were down for 8 minutes and the worker submitted an attempt at its
    deadline meanwhile: the first beat of a web process back up re-opens it, with no
    recovery sweep."""
    settings.SERVICE_HEARTBEAT_SECONDS = 1
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=8))
    auto = attempt_at(
        quiz,
        started=now - timedelta(minutes=30),
        deadline=now - timedelta(minutes=5),
        status=Attempt.Status.SUBMITTED,
        auto=True,
    )
    thread = heartbeat.Heartbeat("web")
    thread.start()
    try:
        wait_until(
            lambda: ServiceOutage.objects.filter(credited_at__isnull=False).exists(), "credit"
        )
    finally:
        thread.stop()
        thread.join(5)
    auto.refresh_from_db()
    adjustment = auto.adjustments.get()
    assert adjustment.kind == AttemptAdjustment.Kind.OUTAGE and adjustment.minutes == 9
    assert auto.status == Attempt.Status.IN_PROGRESS
    assert auto.deadline == now - timedelta(minutes=5) + timedelta(minutes=9)


def late_save(client, attempt, quiz):
    return client.post(
        reverse("assessments:answer", args=[attempt.pk, quiz.q["likert"].pk]),
        {"value": "4"},
        HTTP_HX_REQUEST="true",
    )


@pytest.fixture
def just_back():
    """The web heartbeat was silent for 6 minutes and came back 10 seconds ago; the credit
    (the beat's, or the sweep's) has not been given yet."""
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=6, seconds=10))
    web_up(now - timedelta(seconds=10), now)
    return now


@pytest.mark.parametrize("auto", [False, True])
def test_an_answer_resent_before_the_credit_is_to_be_sent_again_not_dropped(
    teacher_client, teacher, quiz, just_back, auto, django_capture_on_commit_callbacks, caplog
):
    """Its deadline fell in the gap (the worker submitted it meanwhile, or not): the save is
    a 503 with Retry-After, which the page's queue sends again, not a final 409; nothing is
    submitted or saved. Once credited, the same save goes through."""
    status = Attempt.Status.SUBMITTED if auto else Attempt.Status.IN_PROGRESS
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=just_back - timedelta(minutes=30),
        deadline=just_back - timedelta(minutes=3),
        status=status,
        auto_submitted=auto,
    )
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = late_save(teacher_client, attempt, quiz)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "your lost time is being given back" in response.content.decode()
    assert not caplog.records  # an expected answer, not a server error in the log
    attempt.refresh_from_db()
    assert attempt.status == status and not attempt.answers.exists()
    time_url = reverse("assessments:time", args=[attempt.pk])
    assert teacher_client.get(time_url, HTTP_HX_REQUEST="true").status_code == 503

    with django_capture_on_commit_callbacks(execute=True):
        assert services.outages_credit() == 1
    assert late_save(teacher_client, attempt, quiz).status_code == 200
    assert attempt.answers.get().value == 4
    body = teacher_client.get(time_url, HTTP_HX_REQUEST="true").content.decode()
    assert "+6 min for a service interruption" in body


def test_the_retry_reads_in_malay(teacher_client, attempt, quiz, just_back):
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=just_back - timedelta(minutes=30), deadline=just_back - timedelta(minutes=3)
    )
    teacher_client.cookies["django_language"] = "ms"
    response = late_save(teacher_client, attempt, quiz)
    assert response.status_code == 503
    assert "masa anda yang hilang sedang dikembalikan" in response.content.decode()


def test_a_late_answer_is_refused_for_good_when_no_credit_is_coming(teacher_client, attempt, quiz):
    """No gap (the teacher's own connection), a gap too short, a recovery more than a minute
    ago, a credit already given, or one that would not reach now: 409 as before."""
    now = timezone.now()
    cases = {  # (web intervals as (began, last seen) seconds ago, deadline seconds ago)
        "no gap": ([(3600, 0)], 60),
        "too short": ([(3600, 60), (50, 0)], 55),
        "long ago": ([(3600, 600), (120, 0)], 300),
        "credited": ([(3600, 370), (10, 0)], 180),
        "spent": ([(3600, 2400), (10, 0)], 2100),  # 30 minutes at most: still past
    }
    for name, (intervals, deadline) in cases.items():
        ServiceInterval.objects.all().delete()
        for begun, seen in intervals:
            web_up(now - timedelta(seconds=begun), now - timedelta(seconds=seen))
        if name == "credited":
            ServiceOutage.objects.create(
                started_at=now - timedelta(seconds=370),
                ended_at=now - timedelta(seconds=10),
                credited_at=now,
            )
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.Status.IN_PROGRESS,
            auto_submitted=False,
            submitted_at=None,
            started_at=now - timedelta(minutes=50),
            deadline=now - timedelta(seconds=deadline),
        )
        assert late_save(teacher_client, attempt, quiz).status_code == 409, name
    # A teacher who submitted themselves waits for nothing.
    ServiceInterval.objects.all().delete()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=6))
    web_up(now - timedelta(seconds=10), now)
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.Status.SUBMITTED, auto_submitted=False, deadline=now - timedelta(minutes=3)
    )
    assert late_save(teacher_client, attempt, quiz).status_code == 409


def test_an_old_result_costs_no_query_for_the_check(
    teacher_client, teacher, quiz, django_assert_num_queries
):
    """Long after its deadline no credit can reach an attempt: its result page asks nothing
    about outages, whether it was submitted by the teacher or automatically."""
    now = timezone.now()
    pages = []
    for number, auto in ((1, False), (2, True)):
        attempt = attempt_at(
            quiz,
            started=now - timedelta(hours=3),
            deadline=now - timedelta(minutes=31),
            status=Attempt.Status.SUBMITTED,
            auto=auto,
        )
        Attempt.objects.filter(pk=attempt.pk).update(user=teacher, number=number)
        pages.append(reverse("assessments:result", args=[attempt.pk]))
    teacher_client.get(pages[0])  # the user cached
    with CaptureQueriesContext(connection) as by_teacher:
        assert teacher_client.get(pages[0]).status_code == 200
    with django_assert_num_queries(len(by_teacher.captured_queries)):
        assert teacher_client.get(pages[1]).status_code == 200


def test_a_silence_still_open_waits_only_where_a_heartbeat_will_end_it(
    teacher_client, attempt, quiz, monkeypatch
):
    """PostgreSQL is back but no web process has beaten since (the gap is still open): a
    process that beats will close it within a beat and credit it, so its late save is a
    503; under runserver (no heartbeat) nothing would, so it is refused."""
    now = timezone.now()
    web_up(now - timedelta(minutes=60), now - timedelta(minutes=4))
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=now - timedelta(minutes=30), deadline=now - timedelta(minutes=1)
    )
    monkeypatch.setattr(outages, "heartbeat_running", lambda role: False)
    assert late_save(teacher_client, attempt, quiz).status_code == 409
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.Status.IN_PROGRESS, auto_submitted=False, submitted_at=None
    )
    monkeypatch.setattr(outages, "heartbeat_running", lambda role: role == "web")
    response = late_save(teacher_client, attempt, quiz)
    assert response.status_code == 503
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS


def test_a_reload_before_the_credit_does_not_show_the_result(
    teacher_client, teacher, quiz, just_back, django_capture_on_commit_callbacks
):
    """Teachers reload when the service comes back: the attempt the worker submitted during
    the outage shows no result while its credit is on its way (503, reload), then the
    question again."""
    attempt = attempt_at(
        quiz,
        started=just_back - timedelta(minutes=30),
        deadline=just_back - timedelta(minutes=3),
        status=Attempt.Status.SUBMITTED,
        auto=True,
    )
    Attempt.objects.filter(pk=attempt.pk).update(user=teacher)
    result_url = reverse("assessments:result", args=[attempt.pk])
    response = teacher_client.get(reverse("assessments:take", args=[attempt.pk]), follow=True)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "Reload this page in a few seconds" in response.content.decode()
    assert response.redirect_chain == [(result_url, 302)]

    with django_capture_on_commit_callbacks(execute=True):
        services.outages_credit()
    response = teacher_client.get(result_url)
    assert response.status_code == 302 and response.url.endswith(f"/attempts/{attempt.pk}/")
