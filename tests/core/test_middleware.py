import logging
import re

import pytest

pytestmark = pytest.mark.django_db

SERVER_TIMING = re.compile(r'^app;dur=[\d.]+, db;dur=[\d.]+;desc="(\d+) queries"$')


# A failed login runs exactly one query (the user by name); /readyz has its own connections.
FAILED_LOGIN = ("/accounts/login/", {"username": "nobody", "password": "x"})


def test_every_response_carries_request_id_and_server_timing(client):
    response = client.post(*FAILED_LOGIN)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    match = SERVER_TIMING.match(response["Server-Timing"])
    assert match, response["Server-Timing"]
    assert int(match.group(1)) == 1


def test_a_plain_incoming_request_id_is_kept_and_garbage_is_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd")["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_one_log_line_per_request_with_id_status_duration_and_queries(client, caplog):
    caplog.set_level(logging.INFO, logger="crowdproof.requests")
    response = client.post(*FAILED_LOGIN)
    lines = [r for r in caplog.records if r.name == "crowdproof.requests"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert f"request_id={response['X-Request-ID']}" in message
    assert "method=POST path=/accounts/login/ status=200" in message
    assert re.search(r"duration_ms=[\d.]+ queries=1", message)
    assert lines[0].levelno == logging.INFO


def test_slow_requests_are_logged_as_warnings(client, caplog, settings):
    settings.SLOW_REQUEST_MS = -1  # every request is "slow"
    caplog.set_level(logging.INFO, logger="crowdproof.requests")
    client.get("/healthz")
    (record,) = [r for r in caplog.records if r.name == "crowdproof.requests"]
    assert record.levelno == logging.WARNING
    assert "slow=true" in record.getMessage()
