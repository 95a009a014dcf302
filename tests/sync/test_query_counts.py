"""Query-count pins of the delivery hot path: a claim and a delivery cost a fixed number of
queries, whatever the number of keys and rows involved. In a test the durable transactions
are savepoints, so each one counts a SAVEPOINT and a RELEASE."""

import pytest

from apps.sync.models import OutboxEvent, RemoteLink
from apps.sync.services import outbox_claim, outbox_drain
from tests.sync.conftest import publish

pytestmark = pytest.mark.django_db

# SAVEPOINT, due keys (FOR UPDATE SKIP LOCKED), advisory locks, keys in flight elsewhere,
# lease UPDATE, RELEASE, then the leased rows.
CLAIM_QUERIES = 7


@pytest.mark.parametrize("keys", [1, 5])
def test_a_claim_is_seven_queries_whatever_it_leases(django_assert_num_queries, keys):
    for number in range(keys):
        publish(f"attempt:{number}", total_score=1)
        publish(f"attempt:{number}", total_score=2)
    with django_assert_num_queries(CLAIM_QUERIES):
        _token, groups = outbox_claim(connector="records", limit=10)
    assert sorted(len(rows) for rows in groups) == [2] * keys
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.IN_FLIGHT).count() == 2 * keys


def test_delivering_a_linked_key_with_a_coalesced_row_is_25_queries(
    remote, django_assert_num_queries
):
    publish(total_score=1)
    assert outbox_drain(connector="records").delivered == 1  # the POST that links the key
    publish(total_score=2)
    publish(total_score=3)
    # Reclaim (3); then the pause check (1), the claim (7), the link read and update (2),
    # and settling the delivered and the coalesced row in one transaction (4); then twice an
    # empty round, the last one after forgetting the kicks: pause check and claim (2 x 4).
    with django_assert_num_queries(3 + 1 + CLAIM_QUERIES + 2 + 4 + 2 * 4):
        result = outbox_drain(connector="records")
    assert (result.delivered, result.coalesced) == (1, 1)
    assert remote.stats()["counts"]["PUT"] == 1
    assert RemoteLink.objects.get().remote_id == remote.records()[0]["id"]
