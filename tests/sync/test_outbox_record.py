import pytest
from django.db import transaction

from apps.accounts.models import District
from apps.sync.models import OutboxEvent
from apps.sync.services import ERR_OUTSIDE_TRANSACTION, outbox_event_record, payload_hash

pytestmark = pytest.mark.django_db(transaction=True)


def record(key="attempt:1", **extra):
    return outbox_event_record(
        event_type="attempt.submitted",
        aggregate_type="attempt",
        aggregate_key=key,
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


def test_event_and_domain_change_commit_or_roll_back_together():
    def change(code):
        with transaction.atomic():
            District.objects.create(name=code, code=code)
            record(key=f"district:{code}")
            if code == "bad":
                raise ValueError("the change fails after both writes")

    change("good")
    with pytest.raises(ValueError):
        change("bad")
    assert list(District.objects.values_list("code", flat=True)) == ["good"]
    assert list(OutboxEvent.objects.values_list("aggregate_key", flat=True)) == ["district:good"]
