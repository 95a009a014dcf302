"""The lifecycle: every move between two statuses is either in the table and made (audited,
dated, `complaint.closed` on closing, `complaint.reopened` on reopening) or refused with
nothing changed. Reopening a closed complaint is the complainant's follow-up's alone."""

from itertools import product

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from apps.complaints.models import Category, Complaint, ComplaintEvent, Sector
from apps.complaints.services import (
    TRANSITIONS,
    complaint_set_status,
    complaint_transition,
    due_at_for,
)
from apps.core.exceptions import Refused
from apps.sync.models import OutboxEvent
from tests.accounts.factories import verified_login
from tests.complaints.conftest import form_data
from tests.complaints.factories import ComplaintFactory

pytestmark = pytest.mark.django_db
S = Complaint.Status
PAIRS = [(before, after) for before, after in product(S.values, S.values) if before != after]
CHANGELIST = reverse("admin:complaints_complaint_changelist")


def complaint_in(status, **kwargs):
    closed = status == S.CLOSED
    return ComplaintFactory(
        status=status,
        outcome="withdrawn" if closed else "",
        closed_at=timezone.now() if closed else None,
        category=Category.objects.get(code="bribery"),
        sector=Sector.objects.get(code="police"),
        **kwargs,
    )


def snapshot(complaint):
    row = Complaint.objects.values().get(pk=complaint.pk)
    return row, ComplaintEvent.objects.count(), OutboxEvent.objects.count()


def test_the_table_covers_every_status_and_only_statuses():
    assert set(TRANSITIONS) == set(S.values)
    assert all(targets <= set(S.values) for targets in TRANSITIONS.values())
    assert not any(status in targets for status, targets in TRANSITIONS.items())


def assert_refused(complaint, code, **move):
    unchanged = snapshot(complaint)
    with pytest.raises(Refused) as refused:
        complaint_transition(complaint=complaint, **move)
    assert refused.value.code == code
    assert complaint.reference in refused.value.message
    assert snapshot(complaint) == unchanged
    return refused.value.message


@pytest.mark.parametrize(("before", "after"), PAIRS)
def test_every_move_is_made_or_refused_by_the_table(officer, before, after):
    # A reopening goes to the assigned officer if there is one, else back to intake.
    complaint = complaint_in(before, assigned_to=officer if after == S.ASSIGNED else None)
    outcome = "referred" if after == S.CLOSED else ""
    reopening = before == S.CLOSED
    if after not in TRANSITIONS[before]:
        message = assert_refused(
            complaint, "transition_forbidden", to=after, outcome=outcome, by=officer
        )
        assert str(S(before).label) in message and str(S(after).label) in message
        return
    if reopening:  # an officer cannot reopen by hand; only the complainant's follow-up can
        assert_refused(complaint, "reopen_by_complainant_only", to=after, by=officer)
    by = None if reopening else officer
    now = timezone.now()
    assert complaint_transition(
        complaint=complaint, to=after, outcome=outcome, by=by, now=now, reopen=reopening
    )
    complaint.refresh_from_db()
    assert (complaint.status, complaint.outcome) == (after, outcome)
    event = ComplaintEvent.objects.get(complaint=complaint)
    assert (event.action, event.actor, event.at) == (ComplaintEvent.Action.STATUS, by, now)
    clock = {"due_at": complaint.due_at.isoformat()} if reopening else {}  # a fresh SLA
    assert event.detail == {"before": before, "after": after, "outcome": outcome, **clock}
    published = OutboxEvent.objects.all()
    if after == S.CLOSED:
        assert complaint.closed_at == now
        [closed] = published
        assert closed.event_type == "complaint.closed"
        assert closed.payload["outcome"] == "referred"
        assert closed.payload["closed_at"] == now.isoformat()
    elif reopening:
        assert complaint.closed_at is None
        [reopened] = published
        assert reopened.event_type == "complaint.reopened"
        assert (reopened.payload["status"], reopened.payload["outcome"]) == (after, "")
        assert reopened.payload["closed_at"] == ""
        assert complaint.due_at == due_at_for(now, None)
    else:
        assert complaint.closed_at is None
        assert not published.exists()


def test_a_reopening_goes_only_where_the_complaint_belongs(officer):
    """To its officer when it has one, to intake when not: never the other way round."""
    unassigned, assigned = complaint_in(S.CLOSED), complaint_in(S.CLOSED, assigned_to=officer)
    for complaint, wrong in ((unassigned, S.ASSIGNED), (assigned, S.RECEIVED)):
        assert_refused(complaint, "transition_forbidden", to=wrong, by=None, reopen=True)


@pytest.mark.parametrize("status", S.values)
def test_the_same_status_again_changes_nothing(officer, status):
    complaint = complaint_in(status)
    unchanged = snapshot(complaint)
    assert not complaint_transition(
        complaint=complaint, to=status, outcome=complaint.outcome, by=officer
    )
    assert snapshot(complaint) == unchanged


def test_a_refusal_is_in_the_officers_language(officer):
    complaint = complaint_in(S.CLOSED)
    with translation.override("ms"), pytest.raises(Refused) as refused:
        complaint_transition(complaint=complaint, to=S.INVESTIGATING, by=officer)
    assert refused.value.message == (
        f"{complaint.reference}: aduan yang berstatus “Ditutup” tidak boleh dijadikan "
        "“Sedang disiasat”."
    )


@pytest.mark.parametrize(
    ("language", "translated"),
    [("ms", "telah ditutup: hanya maklumat baharu"), ("hi", "बंद है: केवल शिकायतकर्ता")],
)
def test_reopening_by_hand_is_refused_in_the_officers_language(officer, language, translated):
    complaint = complaint_in(S.CLOSED, assigned_to=officer)
    with translation.override(language), pytest.raises(Refused) as refused:
        complaint_transition(complaint=complaint, to=S.ASSIGNED, by=officer)
    assert translated in refused.value.message  # was marked fuzzy: English on every page


def test_a_closed_complaint_keeps_its_outcome(officer):
    complaint = complaint_in(S.CLOSED)
    unchanged = snapshot(complaint)
    with pytest.raises(Refused) as refused:
        complaint_transition(complaint=complaint, to=S.CLOSED, outcome="referred", by=officer)
    assert refused.value.code == "outcome_final"
    assert snapshot(complaint) == unchanged


def test_one_forbidden_move_in_a_bulk_change_refuses_them_all(officer):
    movable = complaint_in(S.ASSIGNED)
    closed = complaint_in(S.CLOSED)
    unchanged = snapshot(movable), snapshot(closed)
    with pytest.raises(Refused):
        complaint_set_status(
            complaint_ids=[movable.pk, closed.pk], status=S.INVESTIGATING, by=officer
        )
    assert (snapshot(movable), snapshot(closed)) == unchanged


def test_the_admin_bulk_action_cannot_reopen(client, officer):
    verified_login(client, officer)
    closed = complaint_in(S.CLOSED)
    unchanged = snapshot(closed)
    data = {"action": "set_status", "_selected_action": [closed.pk], "status": S.RECEIVED}
    page = client.post(CHANGELIST, data, follow=True).content.decode()
    assert f"{closed.reference} is closed: only new information from the complainant" in page
    assert snapshot(closed) == unchanged


def test_the_admin_bulk_action_shows_a_forbidden_move_and_changes_nothing(client, officer):
    verified_login(client, officer)
    movable, closed = complaint_in(S.ASSIGNED), complaint_in(S.CLOSED)
    unchanged = snapshot(movable), snapshot(closed)
    data = {
        "action": "set_status",
        "_selected_action": [movable.pk, closed.pk],
        "status": S.INVESTIGATING,
        "outcome": "",
    }
    response = client.post(CHANGELIST, data, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"{closed.reference}: a complaint that is “Closed” cannot be made" in page
    assert (snapshot(movable), snapshot(closed)) == unchanged


def change(client, complaint, **fields):
    url = reverse("admin:complaints_complaint_change", args=[complaint.pk])
    return client.post(url, form_data(complaint, **fields))


def test_the_change_form_shows_a_forbidden_move_and_saves_nothing(client, officer):
    verified_login(client, officer)
    complaint = complaint_in(S.TRIAGED)
    unchanged = snapshot(complaint)
    response = change(client, complaint, status=S.INVESTIGATING)
    assert response.status_code == 200
    assert "cannot be made “Investigating”" in response.content.decode()
    assert snapshot(complaint) == unchanged


def test_an_assignment_in_the_same_edit_opens_the_moves_of_an_assigned_complaint(client, officer):
    verified_login(client, officer)
    complaint = complaint_in(S.TRIAGED)
    response = change(client, complaint, status=S.INVESTIGATING, assigned_to=officer.pk)
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.assigned_to) == (S.INVESTIGATING, officer)
    moves = ComplaintEvent.objects.filter(complaint=complaint, action=ComplaintEvent.Action.STATUS)
    assert [e.detail["after"] for e in moves.order_by("pk")] == [S.ASSIGNED, S.INVESTIGATING]
