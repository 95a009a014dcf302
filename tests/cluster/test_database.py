"""A real PostgreSQL primary and streaming hot standby (apps/core/cluster/postgres.py), started
once for this module: `default` points at the primary and a `replica` alias at the standby,
as DATABASE_URL and DATABASE_REPLICA_URL would. Reads marked as tolerating lag run on the
standby while it is fresh; a lagging or stopped standby, or a browser that just wrote, reads
from the primary; a restarted primary costs 503s during the gap and no process restart."""

import io
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import environ
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import close_old_connections, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.assessments import selectors as assessment_selectors
from apps.assessments import services as assessment_services
from apps.assessments.models import Answer, Question
from apps.core import replica
from apps.core.cluster.postgres import start_postgres_pair
from apps.sync.services import outbox_reconcile_compare
from config.db_router import replica_database
from doubles.records_api import DEFAULT_KEY_FIELDS, FakeRemote
from tests.accounts.factories import (
    TEST_PASSWORD,
    TeacherFactory,
    UserFactory,
    two_factor_pass,
    verified_login,
)
from tests.assessments.factories import AssessmentFactory, AssignmentFactory, QuestionFactory
from tests.complaints.factories import ComplaintFactory
from tests.sync.conftest import API_KEY, APP_ID, connector_settings

pytestmark = pytest.mark.cluster

DASHBOARD = reverse("complaints:dashboard")
RECOVERY_SECONDS = 60  # bound on waiting for the restarted primary to serve again


def _server(url: str) -> dict:
    """The settings that say which server and database (the socket folder is an option)."""
    parsed = environ.Env.db_url_config(url)
    return {key: parsed[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}


@pytest.fixture(scope="module")
def pair(django_db_setup, django_db_blocker):
    """The pair, with `default` on its primary (migrated) and `replica` on its standby for
    this module; the test database's settings come back afterwards."""
    # Not under pytest's basetemp: every pytest run makes that 0700 again, and the servers
    # run as the wheel's own user when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="crowdproof-pair-"))
    pair = start_postgres_pair(folder, throwaway=True)
    default = connections["default"]
    saved = {**default.settings_dict, "OPTIONS": dict(default.settings_dict["OPTIONS"])}
    try:
        with django_db_blocker.unblock():
            _point(default, pair.primary_url)
            call_command("migrate", verbosity=0, interactive=False)
            # As settings.py builds it from DATABASE_REPLICA_URL (no pool).
            connections.settings[replica.REPLICA] = replica_database(
                {**saved, **_server(pair.standby_url), "OPTIONS": _socket(pair.standby_url)},
                options=settings.DATABASE_BINDING_OPTIONS,
            )
            pair.wait_replayed()
            yield pair
    finally:
        with django_db_blocker.unblock():
            if replica.REPLICA in connections.settings:
                connections[replica.REPLICA].close()
                del connections[replica.REPLICA]
                del connections.settings[replica.REPLICA]
            default.close()
            default.close_pool()
            default.settings_dict.clear()
            default.settings_dict.update(saved)
        pair.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _socket(url: str) -> dict:
    return environ.Env.db_url_config(url)["OPTIONS"]  # {"host": the socket folder}


def _point(wrapper, url: str) -> None:
    wrapper.close()
    wrapper.close_pool()  # the next connection comes from a pool for the new server
    wrapper.settings_dict.update(_server(url))
    wrapper.settings_dict["OPTIONS"] = {**wrapper.settings_dict["OPTIONS"], **_socket(url)}


@pytest.fixture
def routed(pair, settings, django_db_blocker):
    """The router installed, as DATABASE_REPLICA_URL does, and a fresh lag measurement."""
    settings.DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
    replica.forget_replica_state()
    with django_db_blocker.unblock():
        yield pair
        connections[replica.REPLICA].close()  # as at the end of a request (CONN_MAX_AGE=0)
    replica.forget_replica_state()


@pytest.fixture
def officer_client(routed, client):
    verified_login(client, UserFactory(is_staff=True, is_superuser=True))
    return client


@contextmanager
def queries_per_alias():
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[replica.REPLICA]) as standby,
    ):
        yield primary, standby


def served(client, url: str, data: dict):
    """A POST as a WSGI server runs it: Django's test client leaves connections open between
    requests, gunicorn closes (returns to the pool, or drops if broken) at each request's end."""
    response = client.post(url, data)
    close_old_connections()
    return response


def _touching(captured, table: str) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if table in q["sql"]]


def test_the_standby_streams_and_a_second_start_reuses_it(routed):
    ComplaintFactory(description="streamed to the standby")
    routed.wait_replayed()
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_setting('application_name')")
        assert cursor.fetchone() == (True, "crowdproof-replica")
        cursor.execute(
            "SELECT count(*) FROM complaints_complaint WHERE description = %s",
            ["streamed to the standby"],
        )
        assert cursor.fetchone() == (1,)
    connections[replica.REPLICA].close()
    backup = (routed.standby_dir / "PG_VERSION").stat().st_ino
    routed.stop_standby()
    again = start_postgres_pair(routed.primary_dir.parent, throwaway=True)
    assert (again.primary_url, again.standby_url) == (routed.primary_url, routed.standby_url)
    assert (routed.standby_dir / "PG_VERSION").stat().st_ino == backup  # no new base backup


def test_the_complaints_dashboard_reads_from_the_standby(officer_client, routed):
    ComplaintFactory()
    routed.wait_replayed()
    with queries_per_alias() as (primary, standby):
        response = officer_client.get(DASHBOARD)
    assert response.status_code == 200
    assert _touching(standby, "complaints_complaint")
    assert not _touching(primary, "complaints_complaint")
    assert "pg_last_wal_replay_lsn" in standby.captured_queries[0]["sql"]  # the lag check


def test_staff_results_and_the_export_read_from_the_standby(routed):
    assessment = AssessmentFactory()
    routed.wait_replayed()
    with queries_per_alias() as (primary, standby):
        assessment_selectors.results_summary(assessment=assessment)
        call_command("export_results", str(assessment.pk), "--no-progress", stdout=io.StringIO())
    assert _touching(standby, "assessments_attempt")
    assert not _touching(primary, "assessments_attempt")


def test_the_reconcile_comparison_reads_links_from_the_standby(routed, settings):
    remote = FakeRemote(
        rate=10, daily_quota=1000, app_id=APP_ID, api_key=API_KEY, key_fields=DEFAULT_KEY_FIELDS
    ).start()
    settings.SYNC_CONNECTORS = connector_settings(remote.url)
    try:
        with queries_per_alias() as (primary, standby):
            result = outbox_reconcile_compare(connector="records")
    finally:
        remote.stop()
    assert not result.stopped
    assert _touching(standby, "sync_remotelink")
    assert not _touching(primary, "sync_remotelink")


def test_a_lagging_standby_is_skipped(officer_client, routed, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0
    routed.pause_replay()
    try:
        ComplaintFactory(description="only the primary has applied this one")
        routed.wait_received()  # the standby has it, but has not applied it
        with queries_per_alias() as (primary, standby):
            response = officer_client.get(DASHBOARD)
    finally:
        routed.resume_replay()
    assert response.status_code == 200
    assert _touching(primary, "complaints_complaint")
    assert len(standby.captured_queries) == 1  # only the lag check
    routed.wait_replayed()
    replica.forget_replica_state()
    with queries_per_alias() as (primary, standby):
        officer_client.get(DASHBOARD + "?days=7")  # another filter set: not cached
    assert _touching(standby, "complaints_complaint")  # caught up: in use again


def test_a_stopped_standby_is_skipped(officer_client, routed, monkeypatch):
    monkeypatch.setattr(replica, "CHECK_SECONDS", 3600)  # this measurement holds
    with CaptureQueriesContext(connections[replica.REPLICA]) as standby:
        officer_client.get(DASHBOARD)
    assert _touching(standby, "complaints_complaint")
    connections[replica.REPLICA].close()  # the request ended
    routed.stop_standby()
    try:
        # Gone since the measurement: the connection fails, the primary answers.
        with CaptureQueriesContext(connections["default"]) as primary:
            response = officer_client.get(DASHBOARD + "?days=7")
        assert response.status_code == 200
        assert _touching(primary, "complaints_complaint")
        replica.forget_replica_state()  # gone at the measurement: skipped as well
        with CaptureQueriesContext(connections["default"]) as primary:
            response = officer_client.get(DASHBOARD + "?days=90")
        assert response.status_code == 200
        assert _touching(primary, "complaints_complaint")
    finally:
        routed.start_standby()


def test_a_browser_that_wrote_reads_from_the_primary_for_a_while(routed, client, settings):
    staff = UserFactory(is_staff=True, is_superuser=True)
    routed.wait_replayed()
    response = client.post(
        reverse("login"), {"username": staff.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert replica.COOKIE in response.cookies
    two_factor_pass(client, staff)  # the dashboard is an officer page
    with queries_per_alias() as (primary, standby):
        assert client.get(DASHBOARD).status_code == 200
    assert _touching(primary, "complaints_complaint")
    assert not _touching(standby, "complaints_complaint")

    settings.DATABASE_READ_YOUR_WRITES_SECONDS = 0  # the window has passed
    with queries_per_alias() as (primary, standby):
        client.get(DASHBOARD + "?days=7")
    assert _touching(standby, "complaints_complaint")


def _answering_teacher():
    assessment = AssessmentFactory()
    question = QuestionFactory(assessment=assessment, kind=Question.Kind.LIKERT)
    AssignmentFactory(assessment=assessment)
    teacher = TeacherFactory()
    attempt = assessment_services.attempt_start(user=teacher, assessment_id=assessment.pk)
    return teacher, attempt, reverse("assessments:answer", args=[attempt.pk, question.pk])


def test_a_teachers_answer_save_stays_on_the_primary_at_one_query(
    routed, client, django_assert_num_queries
):
    teacher, _attempt, url = _answering_teacher()
    client.force_login(teacher)
    client.post(url, {"value": 1}, HTTP_HX_REQUEST="true")  # warms the session and caches
    with (
        CaptureQueriesContext(connections[replica.REPLICA]) as standby,
        django_assert_num_queries(1),  # the upsert, as without a replica
    ):
        response = client.post(url, {"value": 2}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert not standby.captured_queries


def test_the_pool_recovers_from_a_primary_restart_without_a_process_restart(routed, client):
    teacher, attempt, url = _answering_teacher()
    client.force_login(teacher)
    assert served(client, url, {"value": 1}).status_code == 302
    pool = connections["default"].pool
    routed.stop_primary()
    try:
        during_gap = served(client, url, {"value": 2})
    finally:
        routed.start_primary()
    assert during_gap.status_code == 503
    assert during_gap["Retry-After"]

    statuses = []
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        response = served(client, url, {"value": 3})
        statuses.append(response.status_code)
        if response.status_code != 503:
            break
        time.sleep(0.2)
    assert statuses[-1] == 302, statuses  # served again; only 503s before that
    assert set(statuses[:-1]) <= {503}
    assert connections["default"].pool is pool  # the same pool, nothing restarted
    assert Answer.objects.get(attempt=attempt).value == 3
