"""The hot statements run as prepared statements once a connection has warmed up: PostgreSQL
plans them once per connection instead of on every request (planning costs 2-3x their run).
That needs both halves of config/settings.py's DATABASE_BINDING_OPTIONS: server-side binding
(a client-side binding cursor never prepares) and a prepare_threshold (Django passes None,
preparing nothing, unless told). The test client runs in this process, on the connection the
test reads pg_prepared_statements from."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from apps.assessments.models import Assessment, Attempt
from apps.assessments.services.answers import _SAVE_GRANTED_SQL, _SAVE_SQL
from apps.assessments.services.submit import _LOCK_SQL, _SCORE_SQL, _SUBMIT_SQL
from tests.assessments.test_save_grants import GRANT_META, page_grant
from tests.assessments.test_views import HTMX

pytestmark = pytest.mark.django_db
RUNS = 10  # requests per test: past the threshold, the rest run prepared


def _prepared_at_least() -> int:
    """How many of RUNS must run prepared: those past the threshold. With preparing off
    (None) all are expected, so the test fails on what PostgreSQL holds."""
    threshold = settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold")
    assert threshold is None or threshold < RUNS
    return RUNS if threshold is None else RUNS - threshold


def _as_sent(sql: str) -> str:
    """The statement's text as psycopg sends it: %(name)s becomes $n, numbered by first use."""
    numbers: dict[str, int] = {}
    return re.sub(r"%\((\w+)\)s", lambda m: f"${numbers.setdefault(m[1], len(numbers) + 1)}", sql)


def _prepared_runs(*statements: str) -> dict[str, int]:
    """How many times each statement was executed as a prepared statement on this connection
    (every parameter-type variant psycopg prepared of it)."""
    texts = {_as_sent(sql): sql for sql in statements}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, sum(generic_plans + custom_plans) FROM pg_prepared_statements"
            " WHERE statement = ANY(%s::text[]) GROUP BY statement",
            [list(texts)],
        )
        runs = {texts[text]: count for text, count in cursor.fetchall()}
    return {sql: runs.get(sql, 0) for sql in statements}


@pytest.mark.parametrize("granted", [False, True], ids=["session", "save-grant"])
def test_answer_saves_run_the_prepared_statement_after_warm_up(
    teacher_client, attempt, quiz, granted
):
    expected = _prepared_at_least()
    statement = _SAVE_GRANTED_SQL if granted else _SAVE_SQL
    headers = {GRANT_META: page_grant(teacher_client, attempt)} if granted else {}
    before = _prepared_runs(statement)
    url = reverse("assessments:answer", args=[attempt.pk, quiz.q["likert"].pk])
    for number in range(RUNS):
        response = teacher_client.post(url, {"value": 1 + number % 5}, **HTMX, **headers)
        assert response.status_code == 200
    after = _prepared_runs(statement)
    # Earlier tests on this connection may have warmed it up already: at least every save
    # past the threshold ran prepared.
    assert after[statement] - before[statement] >= expected


def test_submits_run_the_prepared_statements_after_warm_up(teacher_client, teacher, quiz):
    expected = _prepared_at_least()
    Assessment.objects.filter(pk=quiz.pk).update(max_attempts=RUNS)
    hot = {"lock": _LOCK_SQL, "score": _SCORE_SQL, "submit": _SUBMIT_SQL}
    before = _prepared_runs(*hot.values())
    for number in range(1, RUNS + 1):
        start = reverse("assessments:start", args=[quiz.pk])
        assert teacher_client.post(start, {"number": number}).status_code == 302
        attempt = Attempt.objects.get(user=teacher, number=number)
        submit = teacher_client.post(reverse("assessments:submit", args=[attempt.pk]))
        assert submit.url == reverse("assessments:result", args=[attempt.pk])
    assert Attempt.objects.filter(user=teacher, status=Attempt.Status.SUBMITTED).count() == RUNS
    after = _prepared_runs(*hot.values())
    ran_prepared = {name: after[sql] - before[sql] for name, sql in hot.items()}
    assert all(runs >= expected for runs in ran_prepared.values()), ran_prepared
