"""The public hot paths and the cached dashboard run a fixed, small number of queries."""

import pytest

from apps.complaints.models import TriageJob
from apps.complaints.services import complaint_file, triage_run
from tests.accounts.factories import verified_login
from tests.complaints.conftest import GOOD_DESCRIPTION, filing_data, upload
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
    verified_login(client, officer)
    url = "/complaints/dashboard/?days=7"
    client.get(url, HTTP_HX_REQUEST="true")
    # the permission check (2), the session's two-factor device (the signed-in user and the
    # figures come from the cache)
    with django_assert_num_queries(3):
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200


def test_a_triage_run(reference_data, queue, django_assert_num_queries):
    complaint = complaint_file(description=GOOD_DESCRIPTION, anonymous=True).complaint
    job_id = complaint.triage_job.pk
    # claim: the job with its complaint locked, the job updated, the status move (the
    # complaint updated, its audit event); then, outside any transaction, the active rules
    # and the three reference tables; record: the complaint locked, its category, sector and
    # act, the complaint updated, the status move (update, audit event), the job updated, the
    # triage's audit event. Each durable transaction is a savepoint pair in a test.
    with django_assert_num_queries(21):
        job = triage_run(triage_job_id=job_id)
    assert job.state == TriageJob.State.DONE
    # A duplicate delivery of a finished job: the locked read only.
    with django_assert_num_queries(3):
        assert triage_run(triage_job_id=job_id) is None
