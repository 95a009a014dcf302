"""The public hot paths and the cached dashboard run a fixed, small number of queries."""

import pytest

from tests.complaints.conftest import filing_data, upload
from tests.complaints.factories import RECEIPT, ComplaintFactory, TriageJobFactory

pytestmark = pytest.mark.django_db


def test_filing_with_two_attachments(client, queue, django_assert_num_queries):
    # counter upsert, complaint, attachments (one bulk insert), triage job, audit event; in a
    # test the durable transaction is a savepoint pair
    with django_assert_num_queries(7):
        response = client.post(
            "/complaints/", {**filing_data(), "attachments": [upload(), upload("b.png")]}
        )
    assert response.status_code == 201


def test_a_status_poll(client, django_assert_num_queries):
    TriageJobFactory(complaint=ComplaintFactory(reference="CP-2026-000007"))
    data = {"reference": "CP-2026-000007", "receipt": RECEIPT}
    # the complaint with its triage job and category, then its public replies
    with django_assert_num_queries(2):
        response = client.post("/complaints/status/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200


def test_a_cached_dashboard_fragment(client, officer, django_assert_num_queries):
    client.force_login(officer)
    url = "/complaints/dashboard/?days=7"
    client.get(url, HTTP_HX_REQUEST="true")
    # the permission check (the signed-in user and the figures come from the cache)
    with django_assert_num_queries(2):
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
