from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.complaints.models import (
    RETENTION_DAYS_MAX,
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    TriageJob,
)
from apps.complaints.services import (
    REDACTED,
    complaint_file,
    complaint_legal_hold_set,
    complaint_merge,
    complaint_purge,
    complaint_transition,
    retention_due,
)
from tests.accounts.factories import OfficerFactory, verified_login
from tests.complaints.conftest import filing_data, stored_files, upload
from tests.complaints.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:complaints_complaint_changelist")


class Out:
    def __init__(self):
        self.text = ""

    def write(self, value):
        self.text += value


@pytest.fixture
def category():
    return Category.objects.create(code="records", name="Land records", retention_days=365)


def closed(category, *, days_ago, **kwargs):
    """A complaint in `category` closed `days_ago` days ago, through the lifecycle."""
    complaint = ComplaintFactory(category=category, **kwargs)
    at = timezone.now() - timedelta(days=days_ago)
    complaint_transition(
        complaint=complaint, to=Complaint.Status.CLOSED, outcome="unsubstantiated", by=None, now=at
    )
    return complaint


def filed_with_file(category, *, days_ago):
    complaint = complaint_file(uploads=[upload()], **filing_data()).complaint
    complaint.category = category
    complaint.save(update_fields=["category"])
    complaint_transition(
        complaint=complaint,
        to=Complaint.Status.CLOSED,
        outcome="withdrawn",
        by=None,
        now=timezone.now() - timedelta(days=days_ago),
    )
    return complaint


def test_open_complaints_are_never_purged_however_old(category):
    ancient = timezone.now() - timedelta(days=5000)
    for status in set(Complaint.Status) - {Complaint.Status.CLOSED}:
        # Even with a closing date left behind, only the status counts.
        ComplaintFactory(category=category, status=status, received_at=ancient, closed_at=ancient)
    assert not retention_due().exists()
    call_command("complaints_retention", "--no-progress", stdout=Out())
    assert not Complaint.objects.filter(purged_at__isnull=False).exists()
    assert not Complaint.objects.filter(description=REDACTED).exists()


def test_a_legal_hold_stops_the_purge(category):
    held = closed(category, days_ago=400, legal_hold=True)
    assert not retention_due().exists()
    assert complaint_purge(complaint_id=held.pk) is False
    held.refresh_from_db()
    assert held.purged_at is None and held.description != REDACTED


def test_a_category_without_retention_keeps_forever():
    forever = Category.objects.create(code="forever", name="Kept", retention_days=None)
    kept = closed(forever, days_ago=5000)
    uncategorised = closed(None, days_ago=5000)
    assert not retention_due(within=timedelta(days=10000)).exists()
    assert complaint_purge(complaint_id=kept.pk) is False
    assert complaint_purge(complaint_id=uncategorised.pk) is False


def test_retention_days_must_be_positive():
    category = Category(code="zero", name="Zero", retention_days=0)
    with pytest.raises(ValidationError):
        category.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        category.save()


def test_retention_days_stay_within_a_century(client, supervisor):
    """Further ahead than PostgreSQL's dates reach would turn every purge look-up into an
    error (the supervisors' 30-day list answered 500, the command crashed)."""
    category = Category(code="forever", name="Forever", retention_days=RETENTION_DAYS_MAX + 1)
    with pytest.raises(ValidationError):
        category.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        category.save()
    category = Category.objects.create(code="century", name="Century", retention_days=1)
    verified_login(client, supervisor)
    change = reverse("admin:complaints_category_change", args=[category.pk])
    data = {"code": "century", "name": "Century", "sla_days": 30, "retention_days": 2147483647}
    response = client.post(change, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["retention_days"] == [
        "Ensure this value is less than or equal to 36500."
    ]
    category.refresh_from_db()
    assert category.retention_days == 1
    Category.objects.filter(pk=category.pk).update(retention_days=RETENTION_DAYS_MAX)
    closed(category, days_ago=1)
    assert client.get(CHANGELIST + "?purge=30").status_code == 200
    call_command("complaints_retention", "--due-within", str(RETENTION_DAYS_MAX), stdout=Out())


@pytest.mark.parametrize("days", ["-1", str(RETENTION_DAYS_MAX + 1), "999999999"])
def test_due_within_out_of_range_is_refused_with_a_message(days):
    with pytest.raises(CommandError, match="--due-within must be from 0 to"):
        call_command("complaints_retention", "--due-within", days, stdout=Out())


def test_a_duplicate_is_kept_while_its_primary_case_is_open(category, officer):
    """Its files are evidence of the primary's case (shown there): they go with the primary,
    never before it, and the primary's legal hold keeps them too."""
    primary = ComplaintFactory(category=category, status=Complaint.Status.INVESTIGATING)
    duplicate = ComplaintFactory(category=category)
    complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
    years_later = timezone.now() + timedelta(days=800)
    assert not retention_due(now=years_later).exists()
    assert complaint_purge(complaint_id=duplicate.pk, now=years_later) is False
    complaint_transition(
        complaint=primary, to=Complaint.Status.CLOSED, outcome="referred", by=officer
    )
    complaint_legal_hold_set(complaint=primary, hold=True, by=officer)
    assert not retention_due(now=years_later).exists()
    complaint_legal_hold_set(complaint=primary, hold=False, by=officer)
    assert [c.pk for c in retention_due(now=years_later)] == [primary.pk]
    assert complaint_purge(complaint_id=primary.pk, now=years_later)
    assert [c.pk for c in retention_due(now=years_later)] == [duplicate.pk]
    assert complaint_purge(complaint_id=duplicate.pk, now=years_later)


def test_not_due_before_the_retention_runs_out(category):
    recent = closed(category, days_ago=364)
    assert not retention_due().exists()
    assert complaint_purge(complaint_id=recent.pk) is False


def test_purge_redacts_deletes_files_keeps_the_record_and_audits(
    category, private_media, queue, django_capture_on_commit_callbacks
):
    complaint = filed_with_file(category, days_ago=366)
    TriageJob.objects.filter(complaint=complaint).update(state=TriageJob.State.DONE)
    Complaint.objects.filter(pk=complaint.pk).update(triage_summary="Asha paid a bribe in Pune")
    officer = OfficerFactory()
    for kind, author in (
        (ComplaintMessage.Kind.INTERNAL_NOTE, officer),
        (ComplaintMessage.Kind.PUBLIC_REPLY, officer),
        (ComplaintMessage.Kind.FOLLOW_UP, None),
    ):
        complaint.messages.create(
            kind=kind, author=author, body="Asha says Ravi took it", created_at=timezone.now()
        )
    assert len(stored_files(private_media)) == 1
    before = Complaint.objects.get(pk=complaint.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert complaint_purge(complaint_id=complaint.pk) is True

    after = Complaint.objects.get(pk=complaint.pk)
    assert after.description == REDACTED and after.incident_place == REDACTED
    assert before.contact_sealed and before.contact_email_index
    assert (after.contact_sealed, after.contact_email_index) == ("", "")
    assert after.triage_summary == "" and after.triage_details == {}
    assert not Attachment.objects.filter(complaint=complaint).exists()
    assert stored_files(private_media) == []
    assert after.purged_at is not None
    for field in ("reference", "received_at", "closed_at", "due_at", "category_id", "status"):
        assert getattr(after, field) == getattr(before, field)
    event = ComplaintEvent.objects.get(complaint=complaint, action=ComplaintEvent.Action.PURGED)
    assert event.actor is None
    assert event.detail == {"attachments": 1, "messages": 3, "retention_days": 365}
    # Every message's text is gone; who wrote which kind of message, and when, stays.
    messages = list(complaint.messages.order_by("pk").values_list("kind", "author", "body"))
    assert messages == [
        ("note", officer.pk, REDACTED),
        ("reply", officer.pk, REDACTED),
        ("followup", None, REDACTED),
    ]
    # The trail before the purge stays.
    assert ComplaintEvent.objects.filter(complaint=complaint, action="filed").exists()
    # Purged once: not due again.
    assert complaint_purge(complaint_id=complaint.pk) is False


def test_dry_run_lists_and_changes_nothing(category, private_media, queue):
    complaint = filed_with_file(category, days_ago=400)
    closed(category, days_ago=10)  # not due
    call_command("complaints_retention", "--dry-run", stdout=(out := Out()))
    assert complaint.reference in out.text
    assert "1 complaint(s) due for purge now; nothing changed." in out.text
    complaint.refresh_from_db()
    assert complaint.purged_at is None and complaint.description != REDACTED
    assert Attachment.objects.filter(complaint=complaint).count() == 1
    assert len(stored_files(private_media)) == 1
    assert not ComplaintEvent.objects.filter(action=ComplaintEvent.Action.PURGED).exists()


def test_the_command_purges_what_is_due_and_reports(category):
    due = [closed(category, days_ago=400), closed(category, days_ago=366)]
    recent = closed(category, days_ago=5)
    held = closed(category, days_ago=400, legal_hold=True)
    call_command("complaints_retention", "--no-progress", stdout=(out := Out()))
    assert "2 complaint(s) purged; 0 skipped" in out.text
    assert {c.pk for c in Complaint.objects.filter(purged_at__isnull=False)} == {c.pk for c in due}
    for kept in (recent, held):
        kept.refresh_from_db()
        assert kept.purged_at is None


def test_the_30_day_list_for_supervisors(client, supervisor, category):
    soon = closed(category, days_ago=350)  # due in 15 days
    later = closed(category, days_ago=300)  # due in 65 days
    now_due = closed(category, days_ago=370)
    closed(category, days_ago=350, legal_hold=True)
    upcoming = retention_due(within=timedelta(days=30))
    assert [c.pk for c in upcoming] == [now_due.pk, soon.pk]  # soonest first

    call_command("complaints_retention", "--due-within", "30", stdout=(out := Out()))
    assert soon.reference in out.text and now_due.reference in out.text
    assert later.reference not in out.text
    assert "2 complaint(s) due for purge within 30 day(s); nothing changed." in out.text
    assert not Complaint.objects.filter(purged_at__isnull=False).exists()

    verified_login(client, supervisor)
    body = client.get(CHANGELIST + "?purge=30").content.decode()
    assert soon.reference in body and now_due.reference in body
    assert later.reference not in body


def test_legal_hold_is_set_in_the_admin_and_audited(client, supervisor, category):
    complaint = closed(category, days_ago=400)
    verified_login(client, supervisor)
    data = {
        "status": complaint.status,
        "outcome": complaint.outcome,
        "priority": complaint.priority,
        "assigned_to": "",
        "category": category.pk,
        "sector": "",
        "act": "",
        "note": "",
        "reply": "",
        "legal_hold": "on",
    }
    url = reverse("admin:complaints_complaint_change", args=[complaint.pk])
    response = client.post(url, data)
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.legal_hold is True
    event = ComplaintEvent.objects.get(complaint=complaint, action="legal_hold")
    assert event.actor == supervisor and event.detail == {"hold": True}
    assert not retention_due().exists()
