"""Every form field and query parameter of the public, teacher and officer pages, fed
malformed values (NUL, overlong, non-ASCII digits, arbitrary unicode, empty, negative, huge,
wrong types, repeated): never a 500, a refusal is a 4xx with a message, and a refused
request leaves nothing behind."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from apps.assessments.models import Answer, Attempt
from apps.complaints import vault
from apps.complaints.models import (
    Attachment,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    TriageJob,
)
from apps.complaints.services import CONTACT_FIELDS
from tests.accounts.factories import TEST_PASSWORD, OfficerFactory, verified_login
from tests.complaints.conftest import GOOD_DESCRIPTION
from tests.complaints.factories import RECEIPT, ComplaintFactory
from tests.fuzz.strategies import FUZZ, assert_clear, fields, sweep

pytestmark = pytest.mark.django_db


def flat(data: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: values for name, values in data.items() if values}


def _query(data) -> str:
    return urlencode(flat(data), doseq=True)


# --- assessments (teacher) --------------------------------------------------------------
@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


def _start(client, quiz, data, htmx):
    before = Attempt.objects.count()
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(reverse("assessments:start", args=[quiz.pk]), data, headers=headers)
    assert_clear(response)
    if response.status_code >= 400:
        assert Attempt.objects.count() == before
    return response


@FUZZ
@given(data=fields({"number": "1"}))
def test_start(teacher_client, quiz, data):
    for htmx in (False, True):
        _start(teacher_client, quiz, flat(data), htmx)


def test_start_sweep(teacher_client, quiz):
    for _name, data in sweep({"number": "1"}):
        _start(teacher_client, quiz, data, htmx=False)
    # No other spelling of a number (" 1", fullwidth, superscript, "1.5", ...) started one.
    assert not Attempt.objects.exists()


def answer_baseline(quiz, kind: str) -> dict[str, str]:
    """A good answer to the quiz's question of this kind, the other answer fields empty."""
    question = quiz.q[kind]
    good = {
        "single": lambda: {"choice": str(question.right.pk)},
        "multiple": lambda: {"choices": str(question.right[0].pk)},
        "likert": lambda: {"value": "3"},
        "text": lambda: {"text": "Paris"},
    }[kind]()
    return {
        "choice": "",
        "choices": "",
        "value": "",
        "text": "",
        "flagged": "on",
        "queued_left_ms": "45000",  # read only when a save is late (the grace)
        **good,
    }


@pytest.fixture
def attempt(teacher_client, quiz):
    teacher_client.post(reverse("assessments:start", args=[quiz.pk]), {"number": "1"})
    return Attempt.objects.get()


def _answer(client, attempt, question, data):
    rows = list(Answer.objects.filter(attempt=attempt).values())
    url = reverse("assessments:answer", args=[attempt.pk, question.pk])
    accepted = True
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(url, data, headers=headers)
        assert_clear(response)
        if response.status_code >= 400:
            accepted = False
            assert list(Answer.objects.filter(attempt=attempt).values()) == rows
    return accepted


KINDS = ["single", "multiple", "likert", "text"]


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(draw=st.data())
def test_answer(teacher_client, attempt, quiz, kind, draw):
    data = draw.draw(fields(answer_baseline(quiz, kind)))
    _answer(teacher_client, attempt, quiz.q[kind], flat(data))


@pytest.mark.parametrize("kind", KINDS)
def test_answer_sweep(teacher_client, attempt, quiz, kind):
    question = quiz.q[kind]
    for name, data in sweep(answer_baseline(quiz, kind)):
        accepted = _answer(teacher_client, attempt, question, flat(data))
        if accepted and name in ("choice", "choices", "value"):
            # Accepted: what was posted was a number in ASCII digits (or empty).
            assert all(value.isascii() for value in data[name]), (name, data[name])
    stored = Answer.objects.get(attempt=attempt, question=question)
    assert stored.value in (None, 1, 2, 3, 4, 5)
    assert "\x00" not in stored.text


@FUZZ
@given(data=fields({"value": "3", "queued_left_ms": "45000"}))
def test_late_answer_with_a_queued_time(teacher_client, attempt, quiz, data):
    """Past the deadline, with no outage recorded: whatever queued time is sent, refused."""
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.Status.IN_PROGRESS, deadline=attempt.started_at
    )
    url = reverse("assessments:answer", args=[attempt.pk, quiz.q["likert"].pk])
    response = teacher_client.post(url, flat(data), headers={"HX-Request": "true"})
    assert_clear(response)
    assert response.status_code >= 400 and not Answer.objects.exists()


@FUZZ
@given(q=fields({"q": "2"}))
def test_take_question_number(teacher_client, attempt, q):
    assert_clear(teacher_client.get(reverse("assessments:take", args=[attempt.pk]), flat(q)))


@FUZZ
@given(number=st.integers(min_value=0, max_value=10**30))
def test_ids_in_addresses(teacher_client, number):
    """Ids in the path match [0-9]+: one beyond any column is a 404, not a 500."""
    for name in ("take", "review", "result", "time"):
        assert_clear(teacher_client.get(f"/assessments/attempts/{number}/{name}/"))
    assert_clear(teacher_client.post(f"/assessments/attempts/{number}/submit/"))
    assert_clear(teacher_client.post(f"/assessments/{number}/start/"))
    assert_clear(teacher_client.post(f"/assessments/attempts/{number}/questions/{number}/answer/"))


# --- complaints (public) ----------------------------------------------------------------
FILING = {
    "description": GOOD_DESCRIPTION,
    "incident_date": "2026-01-15",
    "incident_place": "Pune",
    "anonymous": "",
    "contact_name": "Asha",
    "contact_email": "asha@example.org",
    "contact_phone": "+91 98765 43210",
}
FILING_MODELS = (Complaint, Attachment, TriageJob, ComplaintEvent)


def _file(client, data) -> set[int]:
    statuses = set()
    before = [model.objects.count() for model in FILING_MODELS]
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(reverse("complaints:file"), data, headers=headers)
        assert_clear(response)
        if response.status_code != 201:  # refused: nothing half-written
            assert [model.objects.count() for model in FILING_MODELS] == before
        before = [model.objects.count() for model in FILING_MODELS]
        statuses.add(response.status_code)
    return statuses


@FUZZ
@given(data=fields(FILING))
def test_file_complaint(client, data):
    _file(client, flat(data))


def test_file_complaint_sweep(client):
    for name, data in sweep(FILING):
        statuses = _file(client, flat(data))
        if name in ("incident_date", "contact_phone") and not "".join(data[name]).isascii():
            assert statuses == {400}, (name, data[name])  # digits 0-9 only
    for complaint in Complaint.objects.all():  # what was accepted fits and holds no NUL
        contact = vault.contact_open(complaint.contact_sealed)  # sealed: opened one by one
        for name in FILING:
            value = (
                getattr(contact, name[8:]) if name in CONTACT_FIELDS else getattr(complaint, name)
            )
            assert "\x00" not in str(value)
        assert complaint.incident_date is None or complaint.incident_date.year == 2026


@pytest.mark.parametrize("field", [*FILING, "website", "nonsense"])
@FUZZ
@given(data=fields(FILING))
def test_validate_field(client, field, data):
    url = f"{reverse('complaints:validate')}?field={field}"
    assert_clear(client.post(url, flat(data), headers={"HX-Request": "true"}))


@FUZZ
@given(query=fields({"field": "contact_email"}))
def test_validate_field_parameter(client, query):
    url = f"{reverse('complaints:validate')}?{_query(query)}"
    assert_clear(client.post(url, FILING, headers={"HX-Request": "true"}))


@pytest.fixture
def filed(db):
    return ComplaintFactory()


@FUZZ
@given(data=fields({"reference": "CP-2020-000001", "receipt": RECEIPT, "seen": "x"}))
def test_status(client, filed, data):
    for headers in ({}, {"HX-Request": "true"}):
        assert_clear(client.post(reverse("complaints:status"), flat(data), headers=headers))


def test_status_sweep(client, filed):
    baseline = {"reference": filed.reference, "receipt": RECEIPT, "seen": "x"}
    for name, data in sweep(baseline):
        response = client.post(reverse("complaints:status"), data)
        assert_clear(response)
        if name == "reference" and data[name] != [filed.reference]:
            assert response.status_code in (400, 404)  # no other spelling finds it


FOLLOW_UP_MODELS = (ComplaintMessage, Attachment, ComplaintEvent)


def _follow_up(client, complaint, data):
    for headers in ({}, {"HX-Request": "true"}):
        before = [model.objects.count() for model in FOLLOW_UP_MODELS]
        row = Complaint.objects.values().get(pk=complaint.pk)
        response = client.post(reverse("complaints:follow-up"), data, headers=headers)
        assert_clear(response)
        if response.status_code != 201:  # refused: nothing half-written
            assert [model.objects.count() for model in FOLLOW_UP_MODELS] == before
            assert Complaint.objects.values().get(pk=complaint.pk) == row


def follow_up_baseline(complaint):
    return {
        "reference": complaint.reference,
        "receipt": RECEIPT,
        "text": GOOD_DESCRIPTION,
        "follow_ups_seen": "0",
    }


@FUZZ
@given(draw=st.data())
def test_follow_up(client, filed, draw):
    _follow_up(client, filed, flat(draw.draw(fields(follow_up_baseline(filed)))))


def test_follow_up_sweep(client, filed):
    for _name, data in sweep(follow_up_baseline(filed)):
        _follow_up(client, filed, flat(data))
    for message in ComplaintMessage.objects.all():  # what was accepted holds no NUL
        assert "\x00" not in message.body and len(message.body) <= 20000


@FUZZ
@given(data=fields({"reference": "CP-2020-000001", "receipt": RECEIPT}))
def test_receipt_download(client, filed, data):
    assert_clear(client.post(reverse("complaints:receipt"), flat(data)))


@pytest.fixture
def officer_client(client):
    verified_login(client, OfficerFactory(is_superuser=True))
    return client


@FUZZ
@given(query=fields({"days": "30", "category": "bribery", "sector": "revenue", "status": ""}))
def test_dashboard(officer_client, query):
    for headers in ({}, {"HX-Request": "true"}):
        url = f"{reverse('complaints:dashboard')}?{_query(query)}"
        assert_clear(officer_client.get(url, headers=headers))


# --- accounts ---------------------------------------------------------------------------
@pytest.fixture
def ravi(db):
    return OfficerFactory(username="ravi")


@FUZZ
@given(data=fields({"username": "ravi", "password": TEST_PASSWORD}), query=fields({"next": "/"}))
def test_login(client, ravi, data, query):
    assert_clear(client.post(f"{reverse('login')}?{_query(query)}", flat(data)))
    client.logout()


# Ravi after his password, before a code: no wrong code, next or repeat enrols or verifies him.
TWO_FACTOR = {"code": "123456", "next": "/admin/"}


@FUZZ
@given(data=fields(TWO_FACTOR), query=fields({"next": "/admin/"}))
def test_two_factor_enrol(client, ravi, data, query):
    client.force_login(ravi)
    assert_clear(client.post(f"{reverse('two-factor-enrol')}?{_query(query)}", flat(data)))
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert DEVICE_ID_SESSION_KEY not in client.session


@FUZZ
@given(data=fields(TWO_FACTOR), query=fields({"next": "/admin/"}))
def test_two_factor_verify(client, ravi, data, query):
    TOTPDevice.objects.get_or_create(user=ravi, defaults={"name": "authenticator"})
    client.force_login(ravi)
    for method in (client.get, client.post):
        assert_clear(method(f"{reverse('two-factor')}?{_query(query)}", flat(data)))
    assert DEVICE_ID_SESSION_KEY not in client.session


@FUZZ
@given(data=fields({"next": "/admin/"}))
def test_recovery_codes(officer_client, data):
    assert_clear(officer_client.post(reverse("two-factor-recovery-codes"), flat(data)))
