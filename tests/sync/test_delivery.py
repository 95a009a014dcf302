"""Delivery against the fake records API (a real HTTP server), in this process."""

import time
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from apps.sync.jobs import outbox_sweep
from apps.sync.models import OutboxEvent, RemoteLink
from apps.sync.services import (
    ERR_NOT_CONFIGURED,
    ERR_PAUSED,
    backoff_seconds,
    connector_pause,
    outbox_drain,
    outbox_sweep_schedule,
)
from apps.sync.services import delivery as services
from tests.sync.conftest import publish

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


@pytest.fixture(autouse=True)
def _one_attempt_per_drain(monkeypatch):
    """Full jitter may draw a backoff of almost 0 s, and a failed event would then be retried
    inside the same drain(). Here every backoff is the top of its window, so each drain()
    makes one attempt per event and a test moves time on with make_due(); the jitter itself
    is tested on its own below."""
    monkeypatch.setattr(services, "backoff_seconds", top_of_backoff_window)


def top_of_backoff_window(attempts: int) -> float:
    cap = django_settings.SYNC_BACKOFF_MAX_SECONDS
    base = django_settings.SYNC_BACKOFF_BASE_SECONDS
    return min(cap, base * 2 ** (attempts - 1))


def test_backoff_is_jittered_within_its_capped_exponential_window(settings):
    settings.SYNC_BACKOFF_BASE_SECONDS, settings.SYNC_BACKOFF_MAX_SECONDS = 2, 10
    for attempts, window in ((1, 2), (2, 4), (3, 8), (4, 10), (9, 10)):
        draws = [backoff_seconds(attempts) for _ in range(200)]
        assert all(0 <= draw <= window for draw in draws)
        assert max(draws) > window / 2 > min(draws)  # spread over the window, not one value


def drain():
    return outbox_drain(connector="records")


def make_due():
    OutboxEvent.objects.update(next_attempt_at=timezone.now())


def test_first_delivery_is_one_post_then_one_put_each(remote):
    publish(total_score=1)
    assert drain().delivered == 1
    publish(total_score=2)
    assert drain().delivered == 1
    stats = remote.stats()
    assert (stats["calls"], stats["counts"]["POST"], stats["counts"]["PUT"]) == (2, 1, 1)
    [record] = remote.records()
    assert (record["field_1"], record["field_11"]) == ("attempt:1", 2)
    link = RemoteLink.objects.get()
    assert link.remote_id == record["id"]
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {(Status.DELIVERED, 1)}


def test_pending_events_of_one_key_are_coalesced(remote):
    first, second, latest = (publish(total_score=score) for score in (1, 2, 3))
    result = drain()
    assert (result.delivered, result.coalesced) == (1, 2)
    assert remote.stats()["calls"] == 1
    assert remote.records()[0]["field_11"] == 3
    for event in (first, second):
        event.refresh_from_db()
        assert (event.status, event.superseded_by_id) == (Status.DELIVERED, latest.pk)


def test_a_lost_post_response_is_found_by_external_key_not_posted_twice(remote):
    remote.control(drop_next=1)
    event = publish()
    assert drain().failed == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.FAILED, 1)
    make_due()
    assert drain().delivered == 1
    stats = remote.stats()
    assert (stats["records"], stats["duplicates"]) == (1, 0)
    assert (stats["counts"]["POST"], stats["counts"]["GET"], stats["counts"]["PUT"]) == (1, 1, 1)


def test_a_timed_out_post_that_landed_later_is_found_not_posted_twice(remote, settings):
    settings.SYNC_HTTP_TIMEOUT = 0.3
    remote.control(latency_ms=1000)
    event = publish()
    assert drain().failed == 1
    event.refresh_from_db()
    assert "Timeout" in event.last_error
    remote.control(latency_ms=0)
    for _ in range(100):  # the slow POST completes at the remote
        if remote.stats()["records"]:
            break
        time.sleep(0.1)
    make_due()
    assert drain().delivered == 1
    stats = remote.stats()
    assert (stats["records"], stats["duplicates"], stats["counts"]["POST"]) == (1, 0, 1)


@pytest.mark.parametrize("retry_after", [True, False])
def test_a_429_is_waited_out_through_the_cooldown_and_is_not_an_attempt(remote, retry_after):
    remote.control(limit_next=1, block_seconds=1, retry_after=retry_after)
    event = publish()
    assert drain().delivered == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DELIVERED, 1)
    stats = remote.stats()
    assert (stats["rate_limited"], stats["records"]) == (1, 1)


def test_a_long_cooldown_hands_the_rows_back_without_counting_an_attempt(remote):
    remote.control(limit_next=1, block_seconds=30, retry_after=True)
    event = publish()
    result = drain()
    assert (result.delivered, result.deferred) == (0, 1)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.PENDING, 0)
    assert event.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert drain().delivered == 0  # every worker respects the shared cooldown
    assert remote.stats()["rate_limited"] == 1


def test_a_5xx_backs_off_then_delivers(remote, settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 60
    remote.control(fail_next=1)
    event = publish()
    before = timezone.now()
    assert drain().failed == 1
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert before <= event.next_attempt_at <= before + timedelta(seconds=61)
    assert "503" in event.last_error
    assert drain().delivered == 0  # not due yet
    make_due()
    assert drain().delivered == 1
    assert remote.stats()["records"] == 1


def test_other_4xx_is_dead_with_the_response_kept(remote):
    remote.control(reject_next=1)
    event = publish()
    assert drain().dead == 1
    event.refresh_from_db()
    assert event.status == Status.DEAD
    assert event.last_response["status"] == 400
    assert "injected 400" in event.last_response["body"]
    assert event.last_request["method"] == "POST"


def test_transient_failures_end_dead_after_max_attempts(remote, settings):
    settings.SYNC_MAX_ATTEMPTS = 2
    remote.control(fail_next=2)
    event = publish()
    drain()
    make_due()
    assert drain().dead == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DEAD, 2)


def test_the_daily_budget_from_quota_headers_stops_delivery_before_the_remote_refuses(remote):
    remote.control(daily_quota=3)
    for number in range(5):
        publish(key=f"attempt:{number}")
    result = drain()
    assert (result.delivered, result.deferred) == (3, 2)
    assert "budget" in result.stopped
    assert remote.stats()["quota_limited"] == 0
    waiting = OutboxEvent.objects.filter(status=Status.PENDING)
    assert waiting.count() == 2
    assert all(e.next_attempt_at > timezone.now() for e in waiting)


def test_events_stay_pending_while_the_connector_is_not_configured(settings):
    settings.SYNC_CONNECTORS = {"records": {**settings.SYNC_CONNECTORS["records"], "BASE_URL": ""}}
    publish()
    assert drain().stopped == ERR_NOT_CONFIGURED
    assert OutboxEvent.objects.get().status == Status.PENDING


def test_a_paused_connector_delivers_nothing_until_resumed(remote):
    connector_pause(connector="records", paused=True, reason="remote maintenance")
    publish()
    assert drain().stopped == ERR_PAUSED
    assert remote.stats()["calls"] == 0
    connector_pause(connector="records", paused=False)
    assert drain().delivered == 1


def test_an_expired_lease_is_reclaimed_and_delivered_once(remote):
    event = publish()
    OutboxEvent.objects.update(
        status=Status.IN_FLIGHT,
        leased_by="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert drain().delivered == 1
    event.refresh_from_db()
    assert event.status == Status.DELIVERED
    assert remote.stats()["records"] == 1


@pytest.mark.django_db(transaction=True)
def test_an_unconfigured_connector_is_not_kicked(settings):
    settings.SYNC_CONNECTORS = {"records": {**settings.SYNC_CONNECTORS["records"], "BASE_URL": ""}}
    publish()
    assert django_rq.get_queue("high").count == 0


@pytest.mark.django_db(transaction=True)
def test_commit_kicks_delivery_jobs_and_a_rollback_kicks_nothing(remote, settings):
    queue = django_rq.get_queue("high")
    with pytest.raises(ValueError), transaction.atomic():
        publish()
        raise ValueError("the change fails")
    assert queue.count == 0
    publish()
    assert queue.count == settings.SYNC_DRAIN_JOBS
    publish(key="attempt:2")  # deduplicated: jobs were kicked less than a second ago
    assert queue.count == settings.SYNC_DRAIN_JOBS


def test_the_periodic_sweep_is_scheduled_once_per_slot_and_reclaims():
    assert outbox_sweep_schedule() is True
    assert outbox_sweep_schedule() is False  # the same slot: chains merge into one
    assert ScheduledJobRegistry(queue=django_rq.get_queue("default")).count == 1
    publish()
    OutboxEvent.objects.update(
        status=Status.IN_FLIGHT, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert outbox_sweep() == 1
    assert OutboxEvent.objects.get().status == Status.PENDING
