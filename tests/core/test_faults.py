"""The web tier keeps serving what it can while the cache Redis, the queue Redis or PostgreSQL
is unreachable, and logs each outage once. "Unreachable" is a real client pointed at a port
nothing listens on (no mocks): the cache and queue through settings, the database through a
second connection (its own pool) swapped in for "default"."""

import logging

import django_rq
import pytest
from django.core.cache import caches
from django.db import DataError, connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.urls import reverse

from apps.assessments.models import Answer, Attempt
from apps.complaints.models import Complaint
from apps.core import outage as outage_module
from apps.core.errors import UNAVAILABLE_RETRY_AFTER_SECONDS
from apps.core.middleware import database_unreachable
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TeacherFactory
from tests.assessments.conftest import quiz  # noqa: F401 (a fixture)
from tests.complaints.conftest import filing_data

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1
PASSWORD = "a-long-password-1"
UNAVAILABLE = "The service is briefly unavailable"


@pytest.fixture(autouse=True)
def fresh_outages(monkeypatch):
    """Outage state is per process: each test starts with every part up, and with none of
    the counters an earlier test kept in the process while its cache was down."""
    monkeypatch.setattr(outage_module, "_outages", {})
    caches["ratelimit"].clear()


@pytest.fixture
def outage_log(caplog):
    caplog.set_level(logging.INFO)

    def records(part):
        return [
            (r.levelname, r.getMessage())
            for r in caplog.records
            if r.name == "crowdproof.outage" and r.getMessage().startswith(part)
        ]

    return records


@pytest.fixture
def dead_cache(settings):
    settings.CACHES = {
        alias: {**config, "LOCATION": DEAD} for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def dead_queue(monkeypatch, settings):
    for name, config in django_rq.settings.QUEUES.items():
        monkeypatch.setitem(django_rq.settings.QUEUES, name, {**config, "URL": DEAD})
    # A configured connector, so that a submit's outbox event kicks delivery jobs.
    records = settings.SYNC_CONNECTORS["records"]
    settings.SYNC_CONNECTORS = {"records": {**records, "BASE_URL": "http://127.0.0.1:1"}}


def _teacher_journey(client, quiz):  # noqa: F811
    """Log in with a password, start, save every question several times, submit."""
    user = TeacherFactory(password=PASSWORD)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    response = client.post(reverse("assessments:start", args=[quiz.pk]))
    assert response.status_code == 302
    attempt = Attempt.objects.get(user=user)
    for value in (1, 2, 3, 4, 5):
        url = reverse("assessments:answer", args=[attempt.pk, quiz.q["likert"].pk])
        assert client.post(url, {"value": value}, HTTP_HX_REQUEST="true").status_code == 200
    response = client.post(reverse("assessments:submit", args=[attempt.pk]))
    assert response.status_code == 302
    attempt.refresh_from_db()
    return attempt


# --- The cache Redis is down ---------------------------------------------------------------
@pytest.mark.django_db
def test_without_the_cache_logins_saves_submits_and_filings_go_on_logged_once(
    client,
    quiz,  # noqa: F811
    dead_cache,
    outage_log,
):
    attempt = _teacher_journey(client, quiz)
    assert attempt.is_submitted
    assert Answer.objects.get(attempt=attempt, question=quiz.q["likert"]).value == 5
    client.logout()
    assert client.post(reverse("complaints:file"), filing_data()).status_code == 201
    assert Complaint.objects.count() == 1

    assert [level for level, _ in outage_log("cache at 127.0.0.1:1")] == ["WARNING"]
    django_rq.get_queue("high").empty()


@pytest.mark.django_db
def test_without_the_cache_rate_limits_still_count_in_the_process(client, dead_cache, settings):
    """Neither fail closed (everyone refused) nor open (no limit at all)."""
    settings.LOGIN_RATE_LIMIT = "2/m"
    wrong = {"username": "nobody", "password": "x"}
    statuses = [client.post(reverse("login"), wrong).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_a_failed_count_is_kept_in_the_process_even_if_the_state_flips_back(
    client, dead_cache, settings, monkeypatch
):
    """Seen in `make drill`: another thread's success marked the cache up between this
    call's failure and its check, and the failed count refused a save with 429."""
    settings.LOGIN_RATE_LIMIT = "2/m"
    state = caches["ratelimit"].outage
    failed = state.failed

    def failed_then_flipped_back(exc):
        failed(exc)
        state.recovered()  # another thread's call succeeding in between

    monkeypatch.setattr(state, "failed", failed_then_flipped_back)
    wrong = {"username": "nobody", "password": "x"}
    statuses = [client.post(reverse("login"), wrong).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_count_redis_lost_between_add_and_incr_goes_on_in_the_process(dead_cache):
    """Seen in `make drill`: add found the key in Redis, Redis died, then incr failed; the
    process had no count of its own to increment, and the save was refused with 429."""
    counts = caches["ratelimit"]
    assert [counts.incr("rl:teacher:1"), counts.incr("rl:teacher:1")] == [1, 2]


@pytest.mark.django_db
def test_a_cache_outage_ends_with_one_info_line(client, monkeypatch, outage_log):
    """The live cache, after a failure: the next call that reaches it ends the outage."""
    state = caches["default"].outage
    monkeypatch.setattr(state, "retry_seconds", 0)  # the circuit lets the next call through
    state.failed(ConnectionError("gone"))
    for _ in range(3):
        caches["default"].get("anything")
    assert [level for level, _ in outage_log("cache at")] == ["WARNING", "INFO"]
    assert not state.down


# --- The queue Redis is down -------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_without_the_queue_committed_work_answers_success_and_is_logged_once(
    client,
    quiz,  # noqa: F811
    dead_queue,
    outage_log,
):
    """Real commits (transaction=True): the after-commit enqueues and kicks fail for real,
    after the rows are written; the requests still succeed and the rows stay."""
    attempt = _teacher_journey(client, quiz)
    assert attempt.is_submitted
    assert OutboxEvent.objects.filter(aggregate_key=f"attempt:{attempt.pk}").exists()
    client.logout()
    assert client.post(reverse("complaints:file"), filing_data()).status_code == 201
    assert Complaint.objects.get().triage_job.state == "queued"  # the sweep re-enqueues it

    assert [level for level, _ in outage_log("job queue")] == ["WARNING"]


# --- PostgreSQL is down ------------------------------------------------------------------
@pytest.fixture
def dead_database(db):
    """`default` pointed at a closed port, with its own pool (another alias) and a short
    wait for a connection; the real connection is put back afterwards."""
    real = connections["default"]
    options = {k: v for k, v in real.settings_dict["OPTIONS"].items() if k != "host"}
    options["pool"] = {**options["pool"], "min_size": 0, "timeout": 0.5}
    dead = DatabaseWrapper(
        {**real.settings_dict, "HOST": "127.0.0.1", "PORT": "1", "OPTIONS": options},
        alias="unreachable",
    )
    connections["default"] = dead
    yield dead
    connections["default"] = real
    dead.close_pool()


def test_without_the_database_a_request_gets_503_with_retry_after(client, dead_database, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post(reverse("login"), {"username": "someone", "password": "x"})
    # The outage is logged once by its middleware, not once more per request as an error.
    assert not caplog.records
    assert response.status_code == 503
    assert response["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    body = response.content.decode()
    assert "<html" in body and UNAVAILABLE in body


def test_without_the_database_htmx_gets_the_message_in_the_message_area(client, dead_database):
    response = client.post(
        reverse("login"), {"username": "someone", "password": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.content.decode()
    assert "<html" not in body and UNAVAILABLE in body
    assert response["HX-Retarget"] == "#messages"


def test_the_503_page_is_in_the_users_language(client, dead_database):
    client.cookies["django_language"] = "hi"
    response = client.post(reverse("login"), {"username": "someone", "password": "x"})
    assert response.status_code == 503
    page = response.content.decode()
    assert 'lang="hi"' in page
    assert "अस्थायी रूप से अनुपलब्ध" in page  # "Temporarily unavailable", translated


def test_without_the_database_healthz_answers_and_readyz_names_it(client, dead_database):
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "postgres" in response.json()["failing"]


def test_a_database_outage_is_logged_once_over_many_requests(client, dead_database, outage_log):
    for _ in range(3):
        client.post(reverse("login"), {"username": "someone", "password": "x"})
    assert [level for level, _ in outage_log("database")] == ["WARNING"]


def test_a_query_error_is_not_taken_for_an_outage():
    assert not database_unreachable(DataError("value too long"))
