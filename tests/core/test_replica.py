"""With no DATABASE_REPLICA_URL (the embedded default) the read-replica machinery is absent:
no router, no middleware, no lag check, no cookie. With a replica, see tests/cluster/."""

import pytest
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.urls import reverse

from apps.complaints.selectors import _dashboard_compute
from apps.core import replica
from tests.accounts.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_nothing_is_routed_without_a_replica():
    assert replica.REPLICA not in connections.settings
    assert not settings.DATABASE_ROUTERS
    assert "apps.core.replica.ReadYourWritesMiddleware" in settings.MIDDLEWARE
    with pytest.raises(MiddlewareNotUsed):
        replica.ReadYourWritesMiddleware(lambda request: None)


def test_reads_that_may_lag_cost_no_extra_query_without_a_replica(django_assert_num_queries):
    with django_assert_num_queries(5):  # per day, status, category, sector, totals: no lag check
        _dashboard_compute({"days": 30})


def test_a_write_sets_no_read_your_writes_cookie_without_a_replica(client):
    user = UserFactory()
    response = client.post(reverse("login"), {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert replica.COOKIE not in response.cookies
