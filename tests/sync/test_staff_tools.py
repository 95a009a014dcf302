"""Staff commands and the admin, against the fake records API."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.sync.management.commands.sync_replay import ERR_NO_SELECTION
from apps.sync.models import ConnectorState, OutboxEvent, RemoteLink, RemoteRecord
from apps.sync.services import ERR_MARKED_DEAD, outbox_drain
from tests.sync.conftest import publish

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def drain():
    return outbox_drain(connector="records")


def test_replay_by_status_sends_the_latest_state_again(remote):
    remote.control(reject_next=1)
    event = publish()
    drain()
    assert "Would replay 1 keys" in run("sync_replay", "--status", "dead", "--dry-run")
    assert OutboxEvent.objects.get().status == Status.DEAD
    assert "Replayed 1 keys" in run("sync_replay", "--status", "dead")
    assert drain().delivered == 1
    event.refresh_from_db()
    assert event.status == Status.DELIVERED
    assert remote.stats()["records"] == 1


def test_replay_of_a_superseded_event_requeues_the_latest_of_its_key(remote):
    old, latest = publish(total_score=1), publish(total_score=2)
    drain()
    run("sync_replay", "--id", str(old.pk))
    assert OutboxEvent.objects.get(status=Status.PENDING).pk == latest.pk
    drain()
    assert remote.records()[0]["field_11"] == 2
    assert remote.stats()["counts"]["PUT"] == 1


def test_replay_by_date_range_and_without_a_selection(remote):
    publish()
    today = timezone.localdate()
    assert "Replayed 0 keys" in run("sync_replay", "--until", str(today - timedelta(days=1)))
    assert "Replayed 1 keys" in run("sync_replay", "--since", str(today))
    with pytest.raises(CommandError, match=ERR_NO_SELECTION):
        run("sync_replay")


def test_reconcile_reclaims_expired_leases_and_requeues_due_rows(remote, settings):
    publish()
    OutboxEvent.objects.update(
        status=Status.IN_FLIGHT, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert "Would reclaim 1 expired leases" in run("sync_reconcile", "--dry-run")
    assert OutboxEvent.objects.get().status == Status.IN_FLIGHT
    out = run("sync_reconcile")
    assert f"Reclaimed 1 expired leases; enqueued {settings.SYNC_DRAIN_JOBS} jobs" in out
    assert OutboxEvent.objects.get().status == Status.PENDING


def test_reconcile_compare_queues_repairs_for_records_that_differ_or_vanished(remote):
    for number in range(3):
        publish(key=f"attempt:{number}", total_score=number)
    drain()
    by_key = {record["field_1"]: record["id"] for record in remote.records()}
    remote.api("PUT", f"/{by_key['attempt:0']}", json={"field_11": 99})  # edited remotely
    remote.api("DELETE", f"/{by_key['attempt:1']}")  # deleted remotely
    dry = run("sync_reconcile", "--compare", "--dry-run")
    assert "1 differ, 1 missing. Would queue 2 repairs" in dry
    assert "1 differ, 1 missing. Queued 2 repairs" in run("sync_reconcile", "--compare")
    repairs = OutboxEvent.objects.filter(status=Status.PENDING)
    assert set(repairs.values_list("priority", flat=True)) == {OutboxEvent.Priority.BACKFILL}
    assert drain().delivered == 2
    records = {record["field_1"]: record["field_11"] for record in remote.records()}
    assert records == {"attempt:0": 0, "attempt:1": 1, "attempt:2": 2}
    assert "0 differ, 0 missing" in run("sync_reconcile", "--compare")
    assert remote.stats()["duplicates"] == 0


def test_sync_import_is_idempotent_and_links_records_for_later_puts(remote):
    for number in range(3):
        remote.api("POST", json={"field_1": f"attempt:{number}", "field_11": number})
    remote.api("POST", json={"field_2": "a record of someone else"})
    assert "Would import 4 records (4 new)" in run("sync_import", "--dry-run")
    assert not RemoteRecord.objects.exists()
    assert "Imported 4 records (4 new) from 2 pages" in run("sync_import")
    assert "Imported 4 records (0 new)" in run("sync_import")
    assert RemoteRecord.objects.count() == 4
    assert RemoteLink.objects.count() == 3
    posts = remote.stats()["counts"]["POST"]
    publish(key="attempt:1", total_score=10)
    assert drain().delivered == 1
    stats = remote.stats()
    assert (stats["counts"]["POST"], stats["counts"]["PUT"], stats["records"]) == (posts, 1, 4)


def test_sync_import_refuses_an_unconfigured_connector(settings):
    settings.SYNC_CONNECTORS = {"records": {**settings.SYNC_CONNECTORS["records"], "BASE_URL": ""}}
    with pytest.raises(CommandError, match="not configured"):
        run("sync_import")


def test_sync_status_reports_counts_age_and_an_unconfigured_connector(settings):
    settings.SYNC_CONNECTORS = {"records": {**settings.SYNC_CONNECTORS["records"], "BASE_URL": ""}}
    publish()
    out = run("sync_status")
    assert "records: NOT CONFIGURED (events stay pending)" in out
    assert "pending    1" in out
    assert "oldest pending: 0:00:0" in out


def test_sync_pause_and_resume(remote):
    assert "would be paused" in run("sync_pause", "records", "--dry-run")
    assert not ConnectorState.objects.exists()
    run("sync_pause", "records", "--reason", "maintenance")
    assert ConnectorState.objects.get().paused
    assert "records: paused" in run("sync_status")
    run("sync_pause", "records", "--resume")
    assert not ConnectorState.objects.get().paused
    with pytest.raises(CommandError, match="Unknown connector"):
        run("sync_pause", "nowhere")


def test_admin_lists_shows_the_last_exchange_and_replays(remote, admin_client):
    remote.control(reject_next=1)
    event = publish()
    drain()
    changelist = reverse("admin:sync_outboxevent_changelist")
    response = admin_client.get(changelist, {"status": "dead", "older_than": "1h"})
    assert response.status_code == 200
    page = admin_client.get(reverse("admin:sync_outboxevent_change", args=[event.pk]))
    assert b"injected 400" in page.content
    admin_client.post(changelist, {"action": "replay", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.status == Status.PENDING
    admin_client.post(changelist, {"action": "mark_dead", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert (event.status, event.last_error) == (Status.DEAD, ERR_MARKED_DEAD)
