import pytest
from django.db import transaction

from apps.sync.models import OutboxEvent
from apps.sync.services import ERR_OUTSIDE_TRANSACTION, outbox_event_record, payload_hash

pytestmark = pytest.mark.django_db(transaction=True)


def record(**extra):
    return outbox_event_record(
        event_type="attempt.submitted",
        aggregate_type="attempt",
        aggregate_key="attempt:1",
        payload={"score": 7, "teacher": "T1001"},
        **extra,
    )


def test_event_commits_with_the_change():
    with transaction.atomic():
        event = record()
    stored = OutboxEvent.objects.get()
    assert stored.pk == event.pk
    assert stored.status == OutboxEvent.Status.PENDING
    assert stored.payload_hash == payload_hash({"teacher": "T1001", "score": 7})


def test_event_is_not_written_when_the_change_rolls_back():
    with pytest.raises(ValueError), transaction.atomic():
        record()
        raise ValueError("the domain change fails after the event was recorded")
    assert not OutboxEvent.objects.exists()


def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match=ERR_OUTSIDE_TRANSACTION):
        record()
    assert not OutboxEvent.objects.exists()
