import contextlib
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from apps.assessments import jobs, selectors, services
from apps.assessments.models import Answer, Attempt
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.factories import AssignmentFactory
from tests.assessments.helpers import in_threads, save

pytestmark = pytest.mark.django_db


# --- Deadline and accommodation arithmetic ----------------------------------------------
def test_deadline_is_start_plus_limit_times_factor():
    start = timezone.now()
    deadline = services.attempt_deadline(
        started_at=start,
        time_limit_minutes=30,
        factor=Decimal("1.5"),
        closes_at=start + timedelta(days=1),
    )
    assert deadline == start + timedelta(minutes=45)


def test_deadline_never_passes_the_window_close():
    start = timezone.now()
    closes = start + timedelta(minutes=10)
    deadline = services.attempt_deadline(
        started_at=start, time_limit_minutes=30, factor=Decimal(2), closes_at=closes
    )
    assert deadline == closes


def test_start_stores_the_deadline_with_the_accommodation(teacher, quiz):
    services.accommodation_set(assignment=quiz.window, user=teacher, factor=Decimal("1.5"))
    now = timezone.now()
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk, now=now)
    assert attempt.deadline == now + timedelta(minutes=45)


def test_accommodation_applies_to_a_running_attempt_at_once(attempt):
    before = attempt.deadline
    services.accommodation_set(assignment=attempt.assignment, user=attempt.user, factor=Decimal(2))
    attempt.refresh_from_db()
    assert attempt.deadline == attempt.started_at + timedelta(minutes=60)
    assert attempt.deadline > before


# --- Start ------------------------------------------------------------------------------
def test_start_is_idempotent(teacher, quiz):
    first = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    again = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    assert first.pk == again.pk
    assert Attempt.objects.count() == 1


def test_start_reads_the_teachers_attempts_and_the_window_once(
    teacher, quiz, django_assert_num_queries
):
    """A start in a storm: the teacher's attempts (1), the open window with the teacher's
    extra time (1), then the insert in its own transaction (savepoint, insert, release)."""
    services.accommodation_set(assignment=quiz.window, user=teacher, factor=Decimal("1.5"))
    with django_assert_num_queries(5):
        attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    with django_assert_num_queries(1):  # a resume (a reload, a second device, a double click)
        assert services.attempt_start(user=teacher, assessment_id=quiz.pk).pk == attempt.pk


def test_start_after_submit_returns_the_submitted_attempt(attempt):
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    replay = services.attempt_start(user=attempt.user, assessment_id=attempt.assessment_id)
    assert replay.pk == attempt.pk


def test_second_attempt_then_no_attempts_left(attempt, quiz):
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    second = services.attempt_start(user=attempt.user, assessment_id=quiz.pk, number=2)
    assert second.number == 2
    services.attempt_submit(attempt_id=second.pk, user=attempt.user)
    with pytest.raises(services.AttemptRefused, match=str(services.ERR_NO_ATTEMPTS_LEFT)):
        services.attempt_start(user=attempt.user, assessment_id=quiz.pk, number=3)


def test_start_outside_the_window_or_cohort_is_refused(teacher, quiz, other_teacher):
    quiz.window.district = other_teacher.district
    quiz.window.save(update_fields=["district"])
    with pytest.raises(services.AssessmentNotAvailable):
        services.attempt_start(user=teacher, assessment_id=quiz.pk)
    with pytest.raises(services.AssessmentNotAvailable):
        services.attempt_start(user=other_teacher, assessment_id=quiz.pk, now=quiz.window.closes_at)
    assert not Attempt.objects.exists()


COHORTS = [None, "mine", "other"]  # a window's district or batch; a teacher's own or none


@pytest.mark.parametrize("teacher_has", [True, False], ids=["in a cohort", "no cohort"])
@pytest.mark.parametrize("window_batch", COHORTS)
@pytest.mark.parametrize("window_district", COHORTS)
def test_a_window_is_open_to_its_district_and_batch_or_to_all(
    quiz, window_district, window_batch, teacher_has
):
    """Each of district and batch: the window's empty (everyone) or the teacher's own."""
    teacher = TeacherFactory() if teacher_has else TeacherFactory(district=None, batch=None)
    other = TeacherFactory()
    mine = {"district": teacher.district, "batch": teacher.batch}
    for field, given in (("district", window_district), ("batch", window_batch)):
        value = {None: None, "mine": mine[field], "other": getattr(other, field)}[given]
        setattr(quiz.window, field, value)
    quiz.window.save()
    fits = all(getattr(quiz.window, field) in (None, mine[field]) for field in mine)
    if fits:
        assert services.attempt_start(user=teacher, assessment_id=quiz.pk).deadline
    else:
        with pytest.raises(services.AssessmentNotAvailable):
            services.attempt_start(user=teacher, assessment_id=quiz.pk)


def test_of_two_open_windows_the_start_takes_the_later_closing(teacher, quiz):
    """Its close caps the deadline; the earlier-closing window would cut the attempt short."""
    now = timezone.now()
    quiz.window.closes_at = now + timedelta(minutes=10)
    quiz.window.save()
    later = AssignmentFactory(assessment=quiz, closes_at=now + timedelta(minutes=20))
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk, now=now)
    assert attempt.assignment_id == later.pk
    assert attempt.deadline == now + timedelta(minutes=20)  # the quiz's 30 minutes, capped


def test_start_schedules_the_auto_submit_at_the_deadline(
    teacher, quiz, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)

    registry = ScheduledJobRegistry(queue=django_rq.get_queue("high"))
    job_id = services.auto_submit_job_id(attempt.deadline)
    assert job_id in registry.get_job_ids()
    assert registry.get_scheduled_time(job_id).timestamp() == math.ceil(
        attempt.deadline.timestamp()
    )
    assert registry.job_class.fetch(job_id, connection=registry.connection).func_name == (
        services.AUTO_SUBMIT_JOB
    )


def test_deadlines_in_the_same_second_share_one_auto_submit_job(
    quiz, django_capture_on_commit_callbacks
):
    """A start storm schedules one job per deadline second, not one per attempt."""
    in_an_hour = math.floor(timezone.now().timestamp()) + 3600
    second = datetime.fromtimestamp(in_an_hour, tz=UTC) + timedelta(milliseconds=100)
    queue = django_rq.get_queue("high")
    registry = ScheduledJobRegistry(queue=queue)
    scheduled_before = registry.count
    with django_capture_on_commit_callbacks(execute=True):
        first, second_teacher, later = (
            services.attempt_start(user=TeacherFactory(), assessment_id=quiz.pk, now=now)
            for now in (
                second,
                second + timedelta(milliseconds=400),
                second + timedelta(seconds=1),
            )
        )

    shared = services.auto_submit_job_id(first.deadline)
    assert services.auto_submit_job_id(second_teacher.deadline) == shared
    assert services.auto_submit_job_id(later.deadline) != shared
    assert {shared, services.auto_submit_job_id(later.deadline)} <= set(registry.get_job_ids())
    assert registry.count == scheduled_before + 2


# --- Save -------------------------------------------------------------------------------
def test_save_upserts_one_answer_per_question(attempt, quiz):
    single = quiz.q["single"]
    first = save(attempt, single, choice=single.wrong.pk)
    assert (first.answered_count, first.total) == (1, 4)
    again = save(attempt, single, choice=single.right.pk, flagged="on")
    assert again.answered_count == 1
    answer = Answer.objects.get()
    assert answer.choice_ids == [single.right.pk]
    assert answer.flagged


def test_save_counts_progress_and_clearing(attempt, quiz):
    save(attempt, quiz.q["likert"], value=4)
    saved = save(attempt, quiz.q["text"], text="Paris")
    assert saved.answered_count == 2
    cleared = save(attempt, quiz.q["likert"], flagged="on")
    assert cleared.answered_count == 1
    assert not Answer.objects.get(question=quiz.q["likert"]).answered


@pytest.mark.parametrize(
    ("key", "fields", "message"),
    [
        ("single", {"choice": "x"}, services.ERR_NOT_A_NUMBER.format(field="choice")),
        ("single", {"choice": [1, 2]}, services.ERR_ONE_CHOICE),
        ("likert", {"value": 6}, services.ERR_LIKERT_RANGE.format(low=1, high=5)),
        ("likert", {"value": 0}, services.ERR_LIKERT_RANGE.format(low=1, high=5)),
        ("likert", {"choice": 1}, services.ERR_WRONG_FIELD.format(field="choice")),
        ("text", {"text": "x" * 2001}, services.ERR_TEXT_TOO_LONG.format(limit=2000)),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(attempt, quiz, key, fields, message):
    with pytest.raises(services.AnswerInvalid) as error:
        save(attempt, quiz.q[key], **fields)
    assert error.value.message == message
    assert not Answer.objects.exists()


def test_choice_from_another_question_is_refused(attempt, quiz):
    with pytest.raises(services.AnswerInvalid, match=str(services.ERR_FOREIGN_CHOICE)):
        save(attempt, quiz.q["single"], choice=quiz.q["multiple"].wrong.pk)
    assert not Answer.objects.exists()


def test_question_of_another_assessment_is_refused(attempt, questionnaire):
    with pytest.raises(services.AnswerInvalid, match=str(services.ERR_UNKNOWN_QUESTION)):
        save(attempt, questionnaire.items[0], value=3)


def test_another_teachers_attempt_cannot_be_saved(attempt, quiz, other_teacher):
    with pytest.raises(services.AttemptNotFound):
        save(attempt, quiz.q["likert"], user=other_teacher, value=3)
    assert not Answer.objects.exists()


def test_save_after_the_deadline_is_refused_and_auto_submits(attempt, quiz):
    save(attempt, quiz.q["likert"], value=5)
    late = attempt.deadline + timedelta(seconds=1)
    with pytest.raises(services.AttemptRefused, match=str(services.ERR_DEADLINE_PASSED)):
        save(attempt, quiz.q["text"], now=late, text="Paris")
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.auto_submitted
    assert attempt.total_score == 5  # the answer saved in time counts, the late one does not
    assert not Answer.objects.filter(question=quiz.q["text"]).exists()


def test_save_after_submit_is_refused(attempt, quiz):
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    with pytest.raises(services.AttemptRefused, match=str(services.ERR_ALREADY_SUBMITTED)):
        save(attempt, quiz.q["likert"], value=2)


def test_version_bump_mid_attempt_serves_new_content(attempt, quiz):
    save(attempt, quiz.q["likert"], value=2)  # caches meta and content at version 1
    removed = quiz.q["single"].wrong.pk
    quiz.q["single"].wrong.delete()
    services.assessment_bump_version(assessment_id=quiz.pk)
    with pytest.raises(services.AnswerInvalid, match=str(services.ERR_FOREIGN_CHOICE)):
        save(attempt, quiz.q["single"], choice=removed)
    saved = save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    assert saved.answered_count == 2
    content = selectors.assessment_content(assessment_id=quiz.pk, version=2)
    assert content.version == 2


# --- Scoring ----------------------------------------------------------------------------
def test_quiz_scoring_with_partial_credit(attempt, quiz):
    q = quiz.q
    save(attempt, q["single"], choice=q["single"].right.pk)  # 2 of 2
    save(attempt, q["multiple"], choices=[q["multiple"].right[0].pk])  # 1 of 2 right: 1.5 of 3
    save(attempt, q["likert"], value=4)  # 4 of 5
    save(attempt, q["text"], text="  paris ")  # accepted answer, any case: 2 of 2
    scores = services.attempt_scores(attempt=attempt)
    assert scores.total == Decimal("9.50")
    assert scores.maximum == Decimal("12.00")
    assert scores.percent == Decimal("79.2")
    assert scores.categories == {}


def test_partial_credit_never_goes_below_zero(attempt, quiz):
    multiple = quiz.q["multiple"]
    save(attempt, multiple, choices=[multiple.wrong.pk])
    assert services.attempt_scores(attempt=attempt).total == 0
    save(attempt, multiple, choices=[c.pk for c in multiple.right] + [multiple.wrong.pk])
    assert services.attempt_scores(attempt=attempt).total == Decimal("1.50")


def test_questionnaire_reverse_keyed_items_and_bands(teacher, questionnaire):
    attempt = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    calm1, calm2, grit1, grit_reversed = questionnaire.items
    save(attempt, calm1, value=5)
    save(attempt, calm2, value=4)  # calm mean 4.5 -> band 10
    save(attempt, grit1, value=3)
    save(attempt, grit_reversed, value=5)  # reversed: 1; grit mean 2.0 -> band 1
    scores = services.attempt_scores(attempt=attempt)
    assert scores.categories == {
        "calm": {"raw": 4.5, "band": 10},
        "grit": {"raw": 2.0, "band": 1},
    }
    assert scores.total == Decimal("13.00")
    assert scores.maximum == Decimal("20.00")


def test_questionnaire_sum_aggregate(teacher, questionnaire):
    questionnaire.category_aggregate = questionnaire.CategoryAggregate.SUM
    questionnaire.save(update_fields=["category_aggregate"])
    attempt = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    save(attempt, questionnaire.items[0], value=2)
    save(attempt, questionnaire.items[1], value=2)  # calm sum 4 -> band 5
    categories = services.attempt_scores(attempt=attempt).categories
    assert categories["calm"] == {"raw": 4.0, "band": 5}
    assert categories["grit"] == {"raw": 0.0, "band": None}


# --- Submit -----------------------------------------------------------------------------
def test_submit_scores_marks_and_writes_the_outbox_event(attempt, quiz):
    save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    result = services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    assert not result.late
    attempt.refresh_from_db()
    assert attempt.is_submitted and not attempt.auto_submitted
    assert attempt.total_score == 2
    event = OutboxEvent.objects.get()
    assert event.event_type == "attempt.submitted"
    assert event.aggregate_key == f"attempt:{attempt.pk}"
    payload = event.payload
    assert payload["external_key"] == event.aggregate_key
    assert payload["employee_id"] == attempt.user.employee_id
    assert payload["total_score"] == 2.0
    assert payload["max_score"] == 12.0
    assert payload["attempt_number"] == 1
    assert payload["auto_submitted"] is False
    assert all(not isinstance(value, dict | list) for value in payload.values())


def test_submitted_payload_names_the_teacher_and_assessment(attempt, quiz):
    """The payload is read in the same SQL statement that locks the attempt: every field
    matches the rows it comes from, and a teacher with no district, batch or employee id
    sends empty strings and the username."""
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    attempt.refresh_from_db()
    user = attempt.user
    assert OutboxEvent.objects.get().payload == {
        "external_key": f"attempt:{attempt.pk}",
        "employee_id": user.employee_id,
        "teacher_name": user.get_full_name(),
        "district": user.district.name,
        "batch": user.batch.name,
        "assessment_id": quiz.pk,
        "assessment_title": quiz.title,
        "assessment_version": quiz.version,
        "attempt_number": 1,
        "submitted_at": attempt.submitted_at.isoformat(),
        "auto_submitted": False,
        "total_score": 0.0,
        "max_score": 12.0,
        "percent": 0.0,
    }
    bare = TeacherFactory(
        username="bare", district=None, batch=None, employee_id="", first_name="", last_name=""
    )
    second = services.attempt_start(user=bare, assessment_id=quiz.pk)
    services.attempt_submit(attempt_id=second.pk, user=bare)
    payload = OutboxEvent.objects.get(aggregate_key=f"attempt:{second.pk}").payload
    assert (payload["employee_id"], payload["teacher_name"]) == (bare.username, "")
    assert (payload["district"], payload["batch"]) == ("", "")


def test_questionnaire_payload_has_one_key_per_category(teacher, questionnaire):
    attempt = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    save(attempt, questionnaire.items[0], value=5)
    services.attempt_submit(attempt_id=attempt.pk, user=teacher)
    payload = OutboxEvent.objects.get().payload
    assert payload["score_calm"] == 10
    assert payload["score_grit"] is None


def test_submit_is_a_handful_of_queries_and_a_replay_is_one(attempt, django_assert_num_queries):
    """The storm's hot path: savepoint, the attempt locked with its assessment and teacher,
    the scores in one statement, the update, the outbox row, release. A replay (a double
    click) only reads the attempt."""
    save(attempt, attempt.assessment.questions.get(kind="likert"), value=3)
    with django_assert_num_queries(6):
        services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    with django_assert_num_queries(3):  # savepoint, the attempt, release
        services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)


def test_submit_twice_gives_one_submission(attempt):
    first = services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    second = services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    assert first.submitted_at == second.submitted_at
    assert OutboxEvent.objects.count() == 1


def test_submit_after_the_deadline_is_late_and_auto(attempt):
    result = services.attempt_submit(
        attempt_id=attempt.pk, user=attempt.user, now=attempt.deadline + timedelta(minutes=1)
    )
    assert result.late
    attempt.refresh_from_db()
    assert attempt.auto_submitted
    assert attempt.submitted_at == attempt.deadline


def test_another_teacher_cannot_submit(attempt, other_teacher):
    with pytest.raises(services.AttemptNotFound):
        services.attempt_submit(attempt_id=attempt.pk, user=other_teacher)
    attempt.refresh_from_db()
    assert not attempt.is_submitted


# --- Auto-submit job and sweeper ------------------------------------------------------------
def test_auto_submit_job_submits_every_attempt_due_and_leaves_the_rest(
    attempt, quiz, questionnaire, other_teacher
):
    save(attempt, quiz.q["likert"], value=3)
    running = services.attempt_start(user=other_teacher, assessment_id=questionnaire.pk)
    jobs.attempts_auto_submit_due()  # early (deadline extended): nothing happens
    attempt.refresh_from_db()
    assert not attempt.is_submitted
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    jobs.attempts_auto_submit_due()
    attempt.refresh_from_db()
    running.refresh_from_db()
    assert attempt.is_submitted and attempt.auto_submitted
    assert attempt.total_score == 3
    assert not running.is_submitted


def test_auto_submit_job_runs_on_a_real_worker(attempt):
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    queue = django_rq.get_queue("high", commit_mode="auto")  # the test's transaction never commits
    queue.enqueue(services.AUTO_SUBMIT_JOB)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.auto_submitted


def test_sweeper_submits_only_expired_attempts(attempt, questionnaire, teacher):
    running = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert services.attempts_submit_expired() == 1
    attempt.refresh_from_db()
    running.refresh_from_db()
    assert attempt.is_submitted and attempt.auto_submitted
    assert not running.is_submitted
    assert services.attempts_submit_expired() == 0
    assert OutboxEvent.objects.count() == 1


def test_close_assessment_submits_running_attempts(attempt, quiz):
    assert services.assessment_close(assessment=quiz) == 1
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.auto_submitted
    with pytest.raises(services.AssessmentNotAvailable):
        services.attempt_start(user=attempt.user, assessment_id=quiz.pk, number=2)


def test_open_assessment_refuses_an_empty_window(quiz):
    now = timezone.now()
    with pytest.raises(services.AssessmentError, match=str(services.ERR_WINDOW)):
        services.assessment_open(assessment=quiz, opens_at=now, closes_at=now)


# --- Concurrency: threads hitting the same attempt --------------------------------------
@pytest.mark.django_db(transaction=True)
def test_concurrent_start_save_and_submit_are_idempotent(teacher, quiz):
    assert not in_threads(lambda: services.attempt_start(user=teacher, assessment_id=quiz.pk))
    attempt = Attempt.objects.get()
    likert = quiz.q["likert"]
    assert not in_threads(
        lambda: services.answer_save(
            user=teacher,
            attempt_id=attempt.pk,
            question_id=likert.pk,
            answer=services.AnswerInput.of(value=4),
        )
    )
    assert Answer.objects.count() == 1
    assert not in_threads(lambda: services.attempt_submit(attempt_id=attempt.pk, user=teacher))
    assert OutboxEvent.objects.count() == 1
    attempt.refresh_from_db()
    assert attempt.total_score == 4


@pytest.mark.django_db(transaction=True)
def test_saves_racing_a_submit_never_land_after_it(teacher, quiz):
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    likert = quiz.q["likert"]

    def save_or_refused():
        with contextlib.suppress(services.AttemptRefused):
            services.answer_save(
                user=teacher,
                attempt_id=attempt.pk,
                question_id=likert.pk,
                answer=services.AnswerInput.of(value=5),
            )

    def submit():
        services.attempt_submit(attempt_id=attempt.pk, user=teacher)

    assert not in_threads(save_or_refused, submit, save_or_refused, save_or_refused)
    attempt.refresh_from_db()
    answer = Answer.objects.filter(attempt=attempt).first()
    # Whatever the interleaving: an answer that exists was there when the score was taken.
    assert attempt.total_score == (5 if answer else 0)
    assert not answer or answer.saved_at <= attempt.submitted_at
