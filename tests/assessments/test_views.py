from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.assessments import selectors, services
from apps.assessments.models import Answer, Attempt
from apps.sync.models import OutboxEvent
from tests.accounts.factories import OfficerFactory, verified_login
from tests.assessments.helpers import in_threads, save

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
# The session, the user and the rate limit (one script); the attempt's meta is in the process.
REDIS_ROUND_TRIPS_PER_WARM_SAVE = 3


def answer_url(attempt, question):
    return reverse("assessments:answer", args=[attempt.pk, question.pk])


def body(response) -> str:
    return response.content.decode()


# --- Dashboard --------------------------------------------------------------------------
def test_dashboard_page_and_fragment(teacher_client, quiz, questionnaire):
    page = teacher_client.get(reverse("assessments:dashboard"))
    assert page.status_code == 200
    assert "<html" in body(page)
    assert quiz.title in body(page) and questionnaire.title in body(page)
    fragment = teacher_client.get(reverse("assessments:dashboard"), **HTMX)
    assert "<html" not in body(fragment)
    assert quiz.title in body(fragment)


def test_dashboard_lists_open_upcoming_and_finished(teacher_client, teacher, quiz, questionnaire):
    questionnaire.window.opens_at = timezone.now() + timedelta(days=1)
    questionnaire.window.closes_at = timezone.now() + timedelta(days=2)
    questionnaire.window.save(update_fields=["opens_at", "closes_at"])
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    services.attempt_submit(attempt_id=attempt.pk, user=teacher)
    board = selectors.teacher_dashboard(user=teacher, now=timezone.now())
    assert [e.title for e in board.upcoming] == [questionnaire.title]
    assert [e.next_number for e in board.open] == [2]  # the quiz allows a second attempt
    assert [a.pk for a in board.finished] == [attempt.pk]
    page = teacher_client.get(reverse("assessments:dashboard"))
    assert reverse("assessments:result", args=[attempt.pk]) in body(page)


def test_dashboard_hides_other_cohorts(teacher_client, quiz, other_teacher):
    quiz.window.district = other_teacher.district
    quiz.window.save(update_fields=["district"])
    assert quiz.title not in body(teacher_client.get(reverse("assessments:dashboard")))


def test_dashboard_queries_when_warm(teacher_client, quiz, django_assert_num_queries):
    teacher_client.get(reverse("assessments:dashboard"))  # fills the cohort cache
    with django_assert_num_queries(1):  # my attempts (the user is cached too)
        teacher_client.get(reverse("assessments:dashboard"))


# --- Start ------------------------------------------------------------------------------
def test_start_redirects_to_the_attempt_and_is_idempotent(teacher_client, quiz):
    url = reverse("assessments:start", args=[quiz.pk])
    first = teacher_client.post(url, {"number": 1})
    second = teacher_client.post(url, {"number": 1})
    attempt = Attempt.objects.get()
    assert first.url == second.url == reverse("assessments:take", args=[attempt.pk])


def test_start_with_htmx_redirects_the_client(teacher_client, quiz):
    response = teacher_client.post(reverse("assessments:start", args=[quiz.pk]), **HTMX)
    assert response["HX-Redirect"] == reverse("assessments:take", args=[Attempt.objects.get().pk])


def test_start_of_an_assessment_not_assigned_is_404(teacher_client, quiz, other_teacher):
    quiz.window.batch = other_teacher.batch
    quiz.window.save(update_fields=["batch"])
    assert teacher_client.post(reverse("assessments:start", args=[quiz.pk])).status_code == 404
    assert not Attempt.objects.exists()


def test_start_with_a_bad_number_is_400(teacher_client, quiz):
    url = reverse("assessments:start", args=[quiz.pk])
    response = teacher_client.post(url, {"number": "two"})
    assert response.status_code == 400
    assert services.ERR_NOT_A_NUMBER.format(field="number") in body(response)


# --- Taking -----------------------------------------------------------------------------
def test_take_page_and_fragment(teacher_client, attempt, quiz):
    url = reverse("assessments:take", args=[attempt.pk])
    page = teacher_client.get(url)
    assert "<html" in body(page)
    assert quiz.q["single"].text in body(page)
    assert 'id="countdown"' in body(page)
    fragment = teacher_client.get(url, **HTMX)
    assert "<html" not in body(fragment)
    assert 'class="question-map"' in body(fragment)


def test_take_page_queries(teacher_client, attempt, django_assert_num_queries):
    url = reverse("assessments:take", args=[attempt.pk])
    teacher_client.get(url)  # the question content is cached from here on
    with django_assert_num_queries(2):  # the attempt, its answers
        teacher_client.get(url)


def test_take_resumes_at_the_last_answer_with_answers_in_place(teacher_client, attempt, quiz):
    save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    save(attempt, quiz.q["likert"], value=4, flagged="on")
    page = body(teacher_client.get(reverse("assessments:take", args=[attempt.pk])))
    assert 'id="q-3" data-position="3">' in page  # visible: the last question answered
    assert 'id="q-1" data-position="1" hidden>' in page
    assert f'value="{quiz.q["single"].right.pk}" checked' in page
    assert 'value="4" checked' in page
    assert 'class="map-cell answered flagged"' in page


def test_take_resumes_at_the_last_answer_not_at_a_cleared_one(teacher_client, attempt, quiz):
    save(attempt, quiz.q["likert"], value=4)
    save(attempt, quiz.q["text"], text="Paris")
    save(attempt, quiz.q["text"], text="")  # the latest save clears question 4
    save(attempt, quiz.q["single"], flagged="on")  # flagged, never answered
    page = body(teacher_client.get(reverse("assessments:take", args=[attempt.pk])))
    assert 'id="q-3" data-position="3">' in page  # the likert item, the last one answered
    assert 'id="q-4" data-position="4" hidden>' in page


def test_another_teachers_attempt_is_404_everywhere(client, attempt, quiz, other_teacher):
    client.force_login(other_teacher)
    for name in ("take", "review", "result"):
        assert client.get(reverse(f"assessments:{name}", args=[attempt.pk])).status_code == 404
    assert client.post(reverse("assessments:submit", args=[attempt.pk])).status_code == 404
    response = client.post(answer_url(attempt, quiz.q["likert"]), {"value": 3})
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert not attempt.is_submitted
    assert not Answer.objects.exists()


# --- Saving an answer -------------------------------------------------------------------
def test_save_fragment_is_small_and_updates_the_map(teacher_client, attempt, quiz):
    likert = quiz.q["likert"]
    response = teacher_client.post(answer_url(attempt, likert), {"value": 5}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert "<html" not in html
    assert "1 of 4 answered" in html
    assert f'id="map-{likert.pk}"' in html and 'hx-swap-oob="true"' in html
    assert len(response.content) < 500
    page = teacher_client.get(reverse("assessments:take", args=[attempt.pk]))
    assert len(response.content) <= 0.05 * len(page.content)
    assert Answer.objects.get().value == 5


def test_save_without_htmx_goes_to_the_next_question(teacher_client, attempt, quiz):
    response = teacher_client.post(
        answer_url(attempt, quiz.q["single"]), {"choice": quiz.q["single"].right.pk}
    )
    assert response.url == reverse("assessments:take", args=[attempt.pk]) + "?q=2"


def test_save_budget_is_two_queries_at_most(
    teacher_client, attempt, quiz, django_assert_num_queries, redis_round_trips
):
    url = answer_url(attempt, quiz.q["likert"])
    teacher_client.post(url, {"value": 1}, **HTMX)  # warms the session, content and meta caches
    with django_assert_num_queries(1), redis_round_trips() as redis:  # the one upsert statement
        response = teacher_client.post(url, {"value": 2}, **HTMX)
    assert response.status_code == 200
    assert redis.n == REDIS_ROUND_TRIPS_PER_WARM_SAVE
    # Another process (nothing kept) with the cache flushed: the attempt is read once more.
    cache.delete(selectors.attempt_meta_key(attempt.pk))
    selectors._LOCAL_META.clear()
    with django_assert_num_queries(2):  # the attempt; the upsert
        teacher_client.post(url, {"value": 3}, **HTMX)
    assert Answer.objects.get().value == 3


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("likert", {"value": "9"}, services.ERR_LIKERT_RANGE.format(low=1, high=5)),
        ("single", {"choice": "abc"}, services.ERR_NOT_A_NUMBER.format(field="choice")),
        ("text", {"text": "y" * 2001}, services.ERR_TEXT_TOO_LONG.format(limit=2000)),
        ("text", {"value": "3"}, services.ERR_WRONG_FIELD.format(field="value")),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_bad_input_is_a_clear_400_that_changes_nothing(
    teacher_client, attempt, quiz, key, data, message, headers
):
    response = teacher_client.post(answer_url(attempt, quiz.q[key]), data, **headers)
    assert response.status_code == 400
    assert message in body(response)
    assert ("<html" in body(response)) is not bool(headers)
    assert not Answer.objects.exists()


def test_choice_of_another_question_and_unknown_question(
    teacher_client, attempt, quiz, questionnaire
):
    foreign = quiz.q["multiple"].wrong.pk
    response = teacher_client.post(
        answer_url(attempt, quiz.q["single"]), {"choice": foreign}, **HTMX
    )
    assert (response.status_code, response["HX-Retarget"]) == (400, "#messages")
    assert str(services.ERR_FOREIGN_CHOICE) in body(response)
    response = teacher_client.post(answer_url(attempt, questionnaire.items[0]), {"value": 3})
    assert response.status_code == 400
    assert str(services.ERR_UNKNOWN_QUESTION) in body(response)
    assert not Answer.objects.exists()


def test_missing_csrf_is_403(teacher, attempt, quiz):
    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    assert client.post(answer_url(attempt, quiz.q["likert"]), {"value": 3}).status_code == 403
    assert not Answer.objects.exists()


def test_save_after_the_deadline_is_409_and_the_attempt_auto_submitted(
    teacher_client, attempt, quiz
):
    save(attempt, quiz.q["likert"], value=4)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = teacher_client.post(answer_url(attempt, quiz.q["text"]), {"text": "Paris"}, **HTMX)
    assert response.status_code == 409
    assert str(services.ERR_DEADLINE_PASSED) in body(response)
    attempt.refresh_from_db()
    assert attempt.auto_submitted and attempt.total_score == 4
    page = teacher_client.get(reverse("assessments:take", args=[attempt.pk]), follow=True)
    assert "submitted automatically" in body(page)


def test_saves_are_rate_limited_per_teacher(teacher_client, attempt, quiz, settings):
    settings.ASSESSMENTS_SAVE_RATE_LIMIT = "2/m"
    url = answer_url(attempt, quiz.q["likert"])
    for value in (1, 2):
        assert teacher_client.post(url, {"value": value}, **HTMX).status_code == 200
    response = teacher_client.post(url, {"value": 3}, **HTMX)
    assert response.status_code == 429
    assert "Please try again in" in body(response) and "<html" not in body(response)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Answer.objects.get().value == 2


# --- Review, submit, result -------------------------------------------------------------
def test_review_page_and_fragment(teacher_client, attempt, quiz):
    save(attempt, quiz.q["likert"], value=4, flagged="on")
    url = reverse("assessments:review", args=[attempt.pk])
    page = body(teacher_client.get(url))
    assert "<html" in page and "3 questions unanswered" in page and "flagged" in page
    fragment = body(teacher_client.get(url, **HTMX))
    assert "<html" not in fragment and "1 of 4 answered" in fragment


def test_submit_twice_lands_on_the_same_result(teacher_client, attempt, quiz):
    save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    url = reverse("assessments:submit", args=[attempt.pk])
    first = teacher_client.post(url)
    second = teacher_client.post(url, **HTMX)
    result_url = reverse("assessments:result", args=[attempt.pk])
    assert first.url == result_url and second["HX-Redirect"] == result_url
    assert OutboxEvent.objects.count() == 1
    page = body(teacher_client.get(result_url))
    assert 'id="total-score">2<' in page


def test_submit_after_the_deadline_is_refused_with_the_message(teacher_client, attempt):
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    url = reverse("assessments:submit", args=[attempt.pk])
    response = teacher_client.post(url, **HTMX)
    assert response.status_code == 409
    assert str(services.ERR_DEADLINE_PASSED) in body(response)
    page = teacher_client.post(url, follow=True)
    assert str(services.ERR_DEADLINE_PASSED) in body(page)
    attempt.refresh_from_db()
    assert attempt.auto_submitted


def test_result_page_and_fragment_show_the_category_chart(teacher_client, teacher, questionnaire):
    attempt = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    save(attempt, questionnaire.items[0], value=5)
    save(attempt, questionnaire.items[1], value=4)
    services.attempt_submit(attempt_id=attempt.pk, user=teacher)
    url = reverse("assessments:result", args=[attempt.pk])
    page = body(teacher_client.get(url))
    assert "<html" in page and "<svg" in page
    assert 'class="bar" data-value="10"' in page  # calm: mean 4.5 -> band 10
    assert "Calm" in page and "Grit" in page
    fragment = body(teacher_client.get(url, **HTMX))
    assert "<html" not in fragment and "<svg" in fragment


def test_result_of_a_running_attempt_goes_back_to_it(teacher_client, attempt):
    response = teacher_client.get(reverse("assessments:result", args=[attempt.pk]))
    assert response.url == reverse("assessments:take", args=[attempt.pk])


# --- Staff ------------------------------------------------------------------------------
@pytest.fixture
def staff_client(client):
    verified_login(client, OfficerFactory())
    return client


def test_results_dashboard_page_and_fragment(staff_client, teacher, questionnaire):
    attempt = services.attempt_start(user=teacher, assessment_id=questionnaire.pk)
    save(attempt, questionnaire.items[0], value=5)
    services.attempt_submit(attempt_id=attempt.pk, user=teacher)
    assert questionnaire.title in body(staff_client.get(reverse("assessments:results")))
    url = reverse("assessments:results-detail", args=[questionnaire.pk])
    page = body(staff_client.get(url))
    assert "<html" in page and "1 submission" in page and teacher.district.name in page
    assert "Mean band per category" in page
    fragment = body(staff_client.get(url, **HTMX))
    assert "<html" not in fragment and "<svg" in fragment


def test_results_dashboard_is_cached_and_refreshed_after_submits(
    staff_client, teacher, other_teacher, quiz, settings, django_assert_num_queries,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    url = reverse("assessments:results-detail", args=[quiz.pk])
    staff_client.get(url)
    # the assessment, the session's two-factor device: the user and the summary are cached
    with django_assert_num_queries(2):
        staff_client.get(url)
    settings.ASSESSMENTS_RESULTS_REFRESH_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        attempt = services.attempt_start(user=other_teacher, assessment_id=quiz.pk)
        services.attempt_submit(attempt_id=attempt.pk, user=other_teacher)
    assert "1 submission" in body(staff_client.get(url))


def test_a_stale_results_entry_is_served_while_another_process_recomputes(
    staff_client, teacher, quiz, settings, django_assert_num_queries,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    url = reverse("assessments:results-detail", args=[quiz.pk])
    staff_client.get(url)
    settings.ASSESSMENTS_RESULTS_REFRESH_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
        services.attempt_submit(attempt_id=attempt.pk, user=teacher)
    cache.add(f"{selectors.results_cache_key(quiz)}:lock", 1, 30)  # held by someone else
    with django_assert_num_queries(2):  # no recompute: the previous figures
        assert "0 submissions" in body(staff_client.get(url))


def test_teachers_cannot_see_results_or_previews(teacher_client, quiz):
    for url in (
        reverse("assessments:results"),
        reverse("assessments:results-detail", args=[quiz.pk]),
        reverse("assessments:preview", args=[quiz.pk]),
    ):
        assert teacher_client.get(url).status_code == 302  # to the admin login


def test_staff_preview_shows_every_question(staff_client, quiz):
    page = body(staff_client.get(reverse("assessments:preview", args=[quiz.pk])))
    assert all(question.text in page for question in quiz.q.values())


@pytest.mark.django_db(transaction=True)
def test_concurrent_submit_requests_give_one_submission(teacher, quiz):
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    url = reverse("assessments:submit", args=[attempt.pk])
    clients = []
    for _ in range(5):
        client = Client()
        client.force_login(teacher)
        clients.append(client)
    statuses = []

    def post(client):
        return lambda: statuses.append(client.post(url).status_code)

    assert not in_threads(*[post(client) for client in clients])
    assert statuses == [302] * 5
    assert OutboxEvent.objects.filter(aggregate_key=f"attempt:{attempt.pk}").count() == 1


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("hi", "केवल एक उत्तर चुनें।"),
        ("ms", "Pilih satu jawapan sahaja."),
        ("en", "Choose one answer only."),
    ],
)
def test_a_refused_answer_is_explained_in_the_teachers_language(
    teacher_client, attempt, quiz, language, expected
):
    teacher_client.cookies["django_language"] = language
    choices = [c.pk for c in quiz.q["single"].choices.all()][:2]
    response = teacher_client.post(
        answer_url(attempt, quiz.q["single"]), {"choice": choices}, **HTMX
    )
    assert response.status_code == 400
    assert expected in body(response)
