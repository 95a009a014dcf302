import re

import pytest
from django.test import override_settings
from django_redis import get_redis_connection

from apps.complaints import forms
from apps.complaints.models import Complaint, ComplaintMessage, TriageJob
from apps.complaints.receipts import receipt_hash, receipt_matches, receipt_new
from apps.complaints.services import complaint_file
from apps.complaints.views import client_key
from tests.complaints.conftest import GOOD_DESCRIPTION, filing_data
from tests.complaints.factories import RECEIPT, ComplaintFactory, TriageJobFactory

URL = "/complaints/"
STATUS = "/complaints/status/"
CLIENT_IP = "203.0.113.77"
CSRF = re.compile(r"[A-Za-z0-9]{64}")  # masked CSRF tokens differ per response


def test_receipts_are_random_stored_hashed_and_checked_in_constant_time():
    receipt = receipt_new()
    assert len(receipt) == 23 and receipt.count("-") == 3
    assert receipt != receipt_new()
    stored = receipt_hash(receipt)
    assert receipt not in stored and stored.startswith("sha256$")
    assert receipt_matches(stored_hash=stored, receipt=receipt)
    # Typed back in lower case or without dashes: still the same receipt.
    assert receipt_matches(stored_hash=stored, receipt=receipt.lower().replace("-", " "))
    assert not receipt_matches(stored_hash=stored, receipt=receipt_new())
    # An unknown reference compares against a dummy digest and never matches.
    assert not receipt_matches(stored_hash=None, receipt=receipt)
    assert not receipt_matches(stored_hash=None, receipt="")


@pytest.mark.django_db
def test_the_status_page_has_a_lookup_form(client):
    response = client.get(STATUS)
    assert response.status_code == 200
    assert 'name="reference"' in response.content.decode()


@pytest.fixture
def pending():
    return TriageJobFactory(complaint=ComplaintFactory(reference="CP-2026-000042")).complaint


@pytest.mark.django_db
def test_the_right_receipt_shows_the_status_and_polls_while_triage_runs(client, pending):
    response = client.post(STATUS, {"reference": "cp-2026-000042", "receipt": RECEIPT})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert "CP-2026-000042" in body and "Received" in body
    assert 'hx-trigger="every 3s"' in body


@pytest.mark.django_db
def test_the_htmx_poll_gets_a_fragment_that_stops_polling_when_triage_is_done(
    client, pending, reference_data
):
    data = {"reference": "CP-2026-000042", "receipt": RECEIPT}
    first = client.post(STATUS, data, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in first and 'hx-trigger="every 3s"' in first
    TriageJob.objects.filter(complaint=pending).update(state=TriageJob.State.DONE)
    Complaint.objects.filter(pk=pending.pk).update(status=Complaint.Status.TRIAGED, category_id=1)
    done = client.post(STATUS, data, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in done
    assert "hx-trigger" not in done
    assert "Under review" in done and "Classified as" in done


@pytest.mark.django_db
def test_a_poll_with_nothing_new_gets_204_and_a_change_gets_the_panel(client, pending, officer):
    data = {"reference": "CP-2026-000042", "receipt": RECEIPT}
    first = client.post(STATUS, data, HTTP_HX_REQUEST="true").content.decode()
    seen = re.search(r'hx-vals=\'\{"seen": "([^"]+)"\}\'', first).group(1)
    unchanged = client.post(STATUS, {**data, "seen": seen}, HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 204 and unchanged.content == b""
    ComplaintMessage.objects.create(
        complaint=pending,
        kind=ComplaintMessage.Kind.PUBLIC_REPLY,
        body="Noted.",
        author=officer,
        created_at=pending.received_at,
    )
    changed = client.post(STATUS, {**data, "seen": seen}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200 and "Noted." in changed.content.decode()
    # Without htmx (a plain form post carrying the field) the page always renders.
    assert client.post(STATUS, {**data, "seen": seen}).status_code == 200


@pytest.mark.django_db
def test_public_replies_show_and_internal_notes_do_not(client, pending, officer):
    for kind, body in (("reply", "We have opened an inquiry."), ("note", "Suspect is known.")):
        ComplaintMessage.objects.create(
            complaint=pending, kind=kind, body=body, author=officer, created_at=pending.received_at
        )
    body = client.post(STATUS, {"reference": "CP-2026-000042", "receipt": RECEIPT}).content.decode()
    assert "We have opened an inquiry." in body
    assert "Suspect is known." not in body


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True])
def test_wrong_receipt_and_unknown_reference_get_the_same_answer(client, pending, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    wrong = client.post(
        STATUS, {"reference": "CP-2026-000042", "receipt": "WRONG-RECEIPT"}, **headers
    )
    unknown = client.post(
        STATUS, {"reference": "CP-2026-000043", "receipt": "WRONG-RECEIPT"}, **headers
    )
    assert wrong.status_code == unknown.status_code == 404
    message = str(forms.ERR_STATUS_NOT_FOUND)
    assert message in wrong.content.decode() and message in unknown.content.decode()

    def comparable(response):
        return CSRF.sub("", response.content.decode().replace("000042", "000043"))

    assert comparable(wrong) == comparable(unknown)
    assert ("<html" in wrong.content.decode()) is not htmx


@pytest.mark.django_db
def test_failed_lookups_are_rate_limited_but_good_ones_are_not(client, pending, settings):
    settings.COMPLAINTS_STATUS_RATE_LIMIT = "3/m"
    good = {"reference": "CP-2026-000042", "receipt": RECEIPT}
    for _ in range(5):
        assert client.post(STATUS, good).status_code == 200
    for _ in range(3):
        assert client.post(STATUS, {**good, "receipt": "guess"}).status_code == 404
    blocked = client.post(STATUS, good)
    assert blocked.status_code == 429
    assert "Too many requests" in blocked.content.decode()
    seconds = int(blocked["Retry-After"])  # the end of the window that refused it
    assert 1 <= seconds <= 60 and f"try again in {seconds} second" in blocked.content.decode()


@pytest.mark.django_db
def test_a_malformed_reference_is_a_400_with_a_message(client):
    response = client.post(STATUS, {"reference": "DROP TABLE", "receipt": "x"})
    assert response.status_code == 400
    assert "A reference looks like CP-2026-000123." in response.content.decode()


def test_the_rate_limit_key_is_a_salted_hash_of_the_address(rf, settings):
    request = rf.post(URL, REMOTE_ADDR=CLIENT_IP)
    key = client_key("g", request)
    assert CLIENT_IP not in key and len(key) == 32
    settings.COMPLAINTS_CLIENT_SALT = "another salt"
    assert client_key("g", request) != key


@pytest.mark.django_db
@override_settings(COMPLAINTS_FILE_RATE_LIMIT="2/m")
@pytest.mark.parametrize("htmx", [False, True])
def test_filing_is_rate_limited_and_no_raw_address_is_stored(client, queue, htmx):
    headers = {"REMOTE_ADDR": CLIENT_IP, **({"HTTP_HX_REQUEST": "true"} if htmx else {})}
    for _ in range(2):
        assert client.post(URL, filing_data(anonymous="on"), **headers).status_code == 201
    blocked = client.post(URL, filing_data(anonymous="on"), **headers)
    assert blocked.status_code == 429
    assert f"try again in {blocked['Retry-After']} second" in blocked.content.decode()
    assert ("<html" in blocked.content.decode()) is not htmx
    assert Complaint.objects.count() == 2
    # Another client is not affected.
    other = client.post(URL, filing_data(anonymous="on"), REMOTE_ADDR="198.51.100.9")
    assert other.status_code == 201
    # Nowhere in Redis (rate-limit counters included) nor in the complaints is the address.
    redis = get_redis_connection("default")
    raw = CLIENT_IP.encode()
    for key in redis.keys("*"):
        assert raw not in key
        kind = redis.type(key)
        if kind == b"string":
            assert raw not in redis.get(key)
        elif kind == b"hash":
            assert all(raw not in value for value in redis.hgetall(key).values())
    for complaint in Complaint.objects.values():
        assert CLIENT_IP not in str(complaint)


@pytest.mark.django_db
def test_the_filed_page_links_to_the_status_with_the_receipt(client, queue):
    response = client.post(URL, filing_data())
    receipt = response.context["receipt"]
    complaint = Complaint.objects.get()
    follow = client.post(STATUS, {"reference": complaint.reference, "receipt": receipt})
    assert follow.status_code == 200
    assert complaint.reference in follow.content.decode()


@pytest.mark.django_db
def test_the_service_files_without_a_request(queue):
    filed = complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
    assert receipt_matches(stored_hash=filed.complaint.receipt_hash, receipt=filed.receipt)


def test_public_labels_hide_internal_statuses():
    complaint = Complaint(status=Complaint.Status.TRIAGING)
    assert complaint.public_status == "Received: being classified"
    complaint.status = Complaint.Status.AWAITING_INFO
    assert complaint.public_status == "Waiting for information from you"
    complaint.status, complaint.outcome = Complaint.Status.CLOSED, Complaint.Outcome.REFERRED
    assert complaint.public_status == "Closed: Referred to another authority"
