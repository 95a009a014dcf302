"""The complainant follows up: text and files added to their own complaint with the receipt,
checked as a filing is, also after closing (which reopens it for the officer in charge);
officers see it in the change page's messages, the audit trail and the "new information"
list. The confirmation page's receipt download."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from apps.complaints import forms, services
from apps.complaints.models import (
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    TriageJob,
)
from apps.complaints.selectors import complaints_overdue
from apps.complaints.services import complaint_follow_up
from apps.complaints.services import follow_up as follow_up_module
from apps.core.exceptions import Invalid, Refused
from apps.sync.models import OutboxEvent
from tests.accounts.factories import OfficerFactory, verified_login
from tests.complaints.conftest import ELF, PDF, filing_data, stored_files, upload
from tests.complaints.factories import RECEIPT, ComplaintFactory

pytestmark = pytest.mark.django_db
S = Complaint.Status
FOLLOW_UP = reverse("complaints:follow-up")
STATUS = reverse("complaints:status")
RECEIPT_FILE = reverse("complaints:receipt")
CHANGELIST = reverse("admin:complaints_complaint_changelist")
ADDED = "The clerk called me again yesterday and asked for Rs 10,000 this time."


def closed(**kwargs):
    now = timezone.now()
    return ComplaintFactory(status=S.CLOSED, outcome="unsubstantiated", closed_at=now, **kwargs)


def written(complaint):
    """Everything a follow-up writes, to show that a refused one wrote nothing."""
    row = Complaint.objects.values().get(pk=complaint.pk)
    counts = [m.objects.count() for m in (ComplaintMessage, Attachment, ComplaintEvent)]
    return row, counts, OutboxEvent.objects.count()


def post(client, complaint, htmx=False, receipt=RECEIPT, **data):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    body = {"reference": complaint.reference, "receipt": receipt, "text": "", **data}
    return client.post(FOLLOW_UP, body, **headers)


# --- the service --------------------------------------------------------------------------


def test_a_follow_up_adds_text_and_files_audited_and_flagged_for_the_officer(
    officer, private_media
):
    complaint = ComplaintFactory(status=S.INVESTIGATING, assigned_to=officer)
    message = complaint_follow_up(complaint=complaint, text=f"  {ADDED}\n", files=[upload()])
    assert (message.kind, message.author, message.body) == ("followup", None, ADDED)
    [attachment] = complaint.attachments.all()
    assert attachment.original_name == "evidence.png" and attachment.content_type == "image/png"
    assert len(stored_files(private_media)) == 1
    [event] = ComplaintEvent.objects.filter(complaint=complaint)
    assert (event.action, event.actor) == (ComplaintEvent.Action.FOLLOW_UP, None)
    assert event.detail == {"message": message.pk, "attachments": ["evidence.png"]}
    complaint.refresh_from_db()
    assert complaint.status == S.INVESTIGATING  # already being worked on: no move
    assert complaint.new_info_at == message.created_at


@pytest.mark.parametrize("assigned", [True, False])
def test_a_follow_up_reopens_a_closed_complaint_to_its_officer_or_intake(officer, assigned):
    complaint = closed(assigned_to=officer if assigned else None)
    complaint_follow_up(complaint=complaint, text=ADDED)
    complaint.refresh_from_db()
    expected = S.ASSIGNED if assigned else S.RECEIVED
    assert (complaint.status, complaint.outcome, complaint.closed_at) == (expected, "", None)
    assert complaint.assigned_to == (officer if assigned else None)
    assert complaint.new_info_at is not None
    move = ComplaintEvent.objects.get(complaint=complaint, action=ComplaintEvent.Action.STATUS)
    assert (move.actor, move.detail["before"], move.detail["after"]) == (None, S.CLOSED, expected)
    [reopened] = OutboxEvent.objects.all()
    assert reopened.event_type == "complaint.reopened"
    assert reopened.payload["status"] == expected


def test_a_reopened_complaint_gets_a_fresh_clock_from_the_reopening(officer):
    """Not the old due date, long past: it would show overdue at once and be escalated."""
    category = Category.objects.create(code="bribery-reopen", name="Bribery", sla_days=7)
    long_ago = timezone.now() - timedelta(days=90)
    complaint = closed(
        assigned_to=officer,
        category=category,
        received_at=long_ago,
        due_at=long_ago + timedelta(days=7),
        escalated_at=long_ago + timedelta(days=8),
    )
    now = timezone.now()
    complaint_follow_up(complaint=complaint, text=ADDED, now=now)
    complaint.refresh_from_db()
    assert complaint.due_at == now + timedelta(days=7)
    assert complaint.escalated_at is None  # the new clock escalates when it runs out
    assert services.complaint_escalate_overdue(now=now + timedelta(days=1)) == []
    assert not complaints_overdue(now=now + timedelta(days=6)).filter(pk=complaint.pk).exists()
    move = ComplaintEvent.objects.get(complaint=complaint, action=ComplaintEvent.Action.STATUS)
    assert move.detail["due_at"] == complaint.due_at.isoformat()
    [escalated] = services.complaint_escalate_overdue(now=now + timedelta(days=8))
    assert escalated == complaint


def test_a_reopened_complaint_reclassified_keeps_the_clock_of_its_reopening(officer):
    """An officer's new category changes the SLA, not when the clock started."""
    bribery = Category.objects.create(code="bribery-clock", name="Bribery", sla_days=7)
    extortion = Category.objects.create(code="extortion-clock", name="Extortion", sla_days=20)
    long_ago = timezone.now() - timedelta(days=90)
    complaint = closed(assigned_to=officer, category=bribery, received_at=long_ago, due_at=long_ago)
    now = timezone.now()
    complaint_follow_up(complaint=complaint, text=ADDED, now=now)
    services.complaint_update(complaint=complaint, by=officer, changes={"category": extortion})
    complaint.refresh_from_db()
    assert complaint.due_at == now + timedelta(days=20)


def test_new_information_ends_the_wait_for_it(officer):
    complaint = ComplaintFactory(status=S.AWAITING_INFO, assigned_to=officer)
    complaint_follow_up(complaint=complaint, text=ADDED)
    complaint.refresh_from_db()
    assert complaint.status == S.INVESTIGATING


def test_a_purged_complaint_refuses_and_keeps_nothing(private_media):
    complaint = closed(purged_at=timezone.now())
    unchanged = written(complaint)
    with pytest.raises(Refused) as refused:
        complaint_follow_up(complaint=complaint, text=ADDED, files=[upload()])
    assert refused.value.code == "purged"
    assert refused.value.message == services.ERR_FOLLOW_UP_PURGED
    assert written(complaint) == unchanged
    assert stored_files(private_media) == []


def test_a_merged_duplicate_refuses_and_names_the_case_it_belongs_to():
    primary = ComplaintFactory()
    duplicate = closed(duplicate_of=primary)
    unchanged = written(duplicate)
    with pytest.raises(Refused) as refused:
        complaint_follow_up(complaint=duplicate, text=ADDED)
    assert refused.value.code == "duplicate"
    assert f"merged into complaint {primary.reference}" in refused.value.message
    assert written(duplicate) == unchanged


@pytest.mark.parametrize(
    ("files", "field", "message"),
    [
        ([], "text", "Write what you want to add, or attach a file."),
        (
            [upload("statement.pdf", ELF, "application/pdf")],
            "attachments",
            "“statement.pdf” is not an accepted file type",
        ),
        ([upload("empty.pdf", b"")], "attachments", "“empty.pdf” is empty (0 bytes)."),
    ],
)
def test_the_filings_checks_refuse_whoever_calls(private_media, files, field, message):
    complaint = ComplaintFactory()
    unchanged = written(complaint)
    with pytest.raises(Invalid) as invalid:
        complaint_follow_up(complaint=complaint, text="  ", files=files)
    assert message in " ".join(map(str, invalid.value.errors[field]))
    assert written(complaint) == unchanged
    assert stored_files(private_media) == []


def test_the_attachment_limits_count_what_the_complaint_already_holds(settings, private_media):
    settings.COMPLAINTS_MAX_FILES = 2
    settings.COMPLAINTS_MAX_TOTAL_MB = 1
    complaint = ComplaintFactory()
    complaint_follow_up(complaint=complaint, text="", files=[upload("first.pdf", PDF)])
    with pytest.raises(Invalid) as invalid:
        complaint_follow_up(complaint=complaint, text=ADDED, files=[upload(), upload("b.png")])
    assert invalid.value.errors["attachments"] == ["At most 1 files can be attached."]
    big = PDF + b"0" * (1024 * 1024 - len(PDF))  # 1 MB on top of what is there
    with pytest.raises(Invalid) as invalid:
        complaint_follow_up(complaint=complaint, text="", files=[upload("big.pdf", big)])
    assert (
        "The attachments together are larger than the limit"
        in invalid.value.errors["attachments"][0]
    )
    assert complaint.attachments.count() == 1 and len(stored_files(private_media)) == 1


def test_files_added_meanwhile_count_under_the_lock(settings, private_media, monkeypatch):
    """Two follow-ups at once cannot both take the last room: the one that locks second is
    counted again with what the first added, and refused with its files deleted."""
    settings.COMPLAINTS_MAX_FILES = 1
    complaint = ComplaintFactory()
    stored = follow_up_module.attachments_stored

    @contextmanager
    def another_follow_up_meanwhile(checked):
        with stored(checked) as files:
            monkeypatch.setattr(follow_up_module, "attachments_stored", stored)
            complaint_follow_up(complaint=complaint, text="", files=[upload("first.png")])
            yield files

    monkeypatch.setattr(follow_up_module, "attachments_stored", another_follow_up_meanwhile)
    with pytest.raises(Invalid) as invalid:
        complaint_follow_up(complaint=complaint, text=ADDED, files=[upload("second.png")])
    assert invalid.value.errors["attachments"] == ["At most 0 files can be attached."]
    assert [a.original_name for a in complaint.attachments.all()] == ["first.png"]
    assert complaint.messages.count() == 1 and len(stored_files(private_media)) == 1


# --- the status page and its follow-up form ------------------------------------------------


def test_the_status_page_offers_the_form_with_the_receipt(client):
    complaint = ComplaintFactory()
    body = client.post(STATUS, {"reference": complaint.reference, "receipt": RECEIPT}).content
    body = body.decode()
    form = re.search(r'<form id="follow-up-form".*?</form>', body, re.S).group(0)
    assert f'action="{FOLLOW_UP}"' in form and 'enctype="multipart/form-data"' in form
    assert f'name="receipt" value="{RECEIPT}"' in form
    assert 'name="text"' in form and 'name="attachments"' in form


@pytest.mark.parametrize("htmx", [False, True])
def test_a_follow_up_through_the_page(client, officer, htmx, private_media):
    complaint = closed(assigned_to=officer)
    response = post(client, complaint, htmx, text=ADDED, attachments=[upload()])
    assert response.status_code == 201
    body = response.content.decode()
    assert ("<html" in body) is not htmx
    assert str(forms.MSG_FOLLOWED_UP) in body
    assert ADDED in body  # listed under what the complainant added
    assert "Assigned to an officer" in body  # reopened, in front of its officer again
    # The next follow-up's fields are new ones (htmx keeps typed text only across the same ids).
    assert 'id="follow-up-1-text"' in body
    complaint.refresh_from_db()
    assert complaint.status == S.ASSIGNED and complaint.attachments.count() == 1


@pytest.mark.parametrize("htmx", [False, True])
def test_a_wrong_receipt_gets_what_the_status_page_gives_and_writes_nothing(client, htmx):
    complaint = ComplaintFactory()
    unchanged = written(complaint)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    wrong = {"reference": complaint.reference, "receipt": "WRONG-RECEIPT"}
    on_status = client.post(STATUS, wrong, **headers)
    on_follow_up = post(client, complaint, htmx, receipt="WRONG-RECEIPT", text=ADDED)
    assert on_status.status_code == on_follow_up.status_code == 404
    assert str(forms.ERR_STATUS_NOT_FOUND) in on_follow_up.content.decode()
    assert written(complaint) == unchanged


def test_wrong_receipts_on_follow_ups_count_towards_the_lookup_limit(client, settings):
    settings.COMPLAINTS_STATUS_RATE_LIMIT = "2/m"
    complaint = ComplaintFactory()
    for _ in range(2):
        assert post(client, complaint, receipt="guess", text=ADDED).status_code == 404
    assert post(client, complaint, text=ADDED).status_code == 429
    assert (
        client.post(STATUS, {"reference": complaint.reference, "receipt": RECEIPT}).status_code
        == 429
    )


def test_follow_ups_share_the_filings_rate_limit(client, settings, queue):
    settings.COMPLAINTS_FILE_RATE_LIMIT = "2/m"
    complaint = ComplaintFactory()
    assert client.post(reverse("complaints:file"), filing_data()).status_code == 201
    assert post(client, complaint, text=ADDED).status_code == 201
    blocked = post(client, complaint, text=ADDED)
    assert blocked.status_code == 429 and "Too many requests" in blocked.content.decode()
    assert complaint.messages.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": ""}, "Write what you want to add, or attach a file."),
        ({"text": "a\x00b"}, "Null characters are not allowed."),
        ({"text": "x" * 20001}, "Ensure this value has at most 20000 characters"),
        (
            {"text": ADDED, "attachments": lambda: [upload("a.pdf", ELF, "application/pdf")]},
            "“a.pdf” is not an accepted file type",
        ),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_refused_follow_up_is_a_400_with_the_message_and_writes_nothing(
    client, private_media, data, message, htmx
):
    complaint = ComplaintFactory()
    unchanged = written(complaint)
    data = {name: value() if callable(value) else value for name, value in data.items()}
    response = post(client, complaint, htmx, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert written(complaint) == unchanged
    assert stored_files(private_media) == []


def test_a_purged_complaint_shows_why_and_refuses_a_follow_up(client):
    complaint = closed(purged_at=timezone.now())
    page = client.post(STATUS, {"reference": complaint.reference, "receipt": RECEIPT})
    assert 'id="follow-up-form"' not in page.content.decode()
    assert str(services.ERR_FOLLOW_UP_PURGED) in page.content.decode()
    unchanged = written(complaint)
    refused = post(client, complaint, text=ADDED)
    assert refused.status_code == 409
    assert str(services.ERR_FOLLOW_UP_PURGED) in refused.content.decode()
    assert written(complaint) == unchanged


def test_the_refusal_reads_in_malay(client):
    complaint = ComplaintFactory()
    with translation.override("ms"):
        expected = str(services.ERR_FOLLOW_UP_EMPTY)
    assert expected != str(services.ERR_FOLLOW_UP_EMPTY)  # translated, not the English
    client.cookies["django_language"] = "ms"
    response = post(client, complaint, text="")
    assert response.status_code == 400 and expected in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_a_resent_follow_up_adds_nothing_and_keeps_the_text(client, officer, htmx, private_media):
    """A reload after sending (the browser posts again), or a second click without JavaScript:
    the form says how many follow-ups its page showed, and one more is there now."""
    complaint = closed(assigned_to=officer)
    page = client.post(STATUS, {"reference": complaint.reference, "receipt": RECEIPT})
    assert '<input type="hidden" name="follow_ups_seen" value="0">' in page.content.decode()
    sent = {"text": ADDED, "follow_ups_seen": "0"}
    assert post(client, complaint, htmx=htmx, attachments=[upload()], **sent).status_code == 201
    unchanged = written(complaint)
    again = post(client, complaint, htmx=htmx, attachments=[upload()], **sent)
    assert again.status_code == 400
    body = again.content.decode()
    assert str(services.ERR_FOLLOW_UP_RESENT) in body and ADDED in body  # listed, and kept
    assert '<input type="hidden" name="follow_ups_seen" value="1">' in body
    assert written(complaint) == unchanged
    assert len(stored_files(private_media)) == 1
    complaint.refresh_from_db()
    assert complaint.status == S.ASSIGNED  # reopened once
    more = post(client, complaint, htmx=htmx, text="And a second call.", follow_ups_seen="1")
    assert more.status_code == 201 and complaint.messages.count() == 2


def test_the_resent_refusal_reads_in_malay(client):
    complaint = ComplaintFactory(status=S.INVESTIGATING)
    complaint_follow_up(complaint=complaint, text=ADDED)
    with translation.override("ms"):
        expected = str(services.ERR_FOLLOW_UP_RESENT)
    assert expected.startswith("Aduan anda menerima maklumat")
    client.cookies["django_language"] = "ms"
    response = post(client, complaint, text=ADDED, follow_ups_seen="0")
    assert response.status_code == 400 and expected in response.content.decode()


def test_the_status_line_is_a_live_region_outside_the_panel_htmx_replaces(client):
    """A live region swapped away with the panel is not reliably read out: the page holds a
    stable one, and each htmx panel fills it out of band."""
    complaint = ComplaintFactory(status=S.INVESTIGATING)
    data = {"reference": complaint.reference, "receipt": RECEIPT}
    page = client.post(STATUS, data).content.decode()
    region = re.search(
        r'<div id="status-now"[^>]*>(.*?)</div>\s*<section id="status-panel"', page, re.S
    )
    assert 'aria-live="polite"' in region.group(0) and "public-status" in region.group(1)
    assert "hx-swap-oob" not in page
    fragment = client.post(STATUS, data, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="status-now" hx-swap-oob="innerHTML">')
    panel = fragment[fragment.index('<section id="status-panel"') :]
    assert "aria-live" not in panel and "public-status" not in panel
    # A failed look-up empties it: no other complaint's status stays on screen.
    wrong = client.post(STATUS, {**data, "receipt": "WRONG"}, HTTP_HX_REQUEST="true")
    assert '<div id="status-now" hx-swap-oob="innerHTML"></div>' in wrong.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_the_answer_to_a_follow_up_takes_the_focus(client, htmx):
    complaint = ComplaintFactory(status=S.INVESTIGATING)
    refused = post(client, complaint, htmx=htmx, text="").content.decode()
    summary = re.search(r'<div class="message error error-summary"[^>]*>.*?</div>', refused, re.S)
    assert "autofocus" in summary.group(0) and 'href="#follow-up-0-text"' in summary.group(0)
    assert str(services.ERR_FOLLOW_UP_EMPTY) in summary.group(0)
    added = post(client, complaint, htmx=htmx, text=ADDED).content.decode()
    assert re.search(r'<p class="message success" role="status" tabindex="-1" autofocus>', added)
    assert "error-summary" not in added
    looked_up = client.post(STATUS, {"reference": complaint.reference, "receipt": RECEIPT})
    assert "autofocus" not in looked_up.content.decode()  # only a follow-up's answer


def test_the_list_of_what_to_correct_reads_in_malay(client):
    complaint = ComplaintFactory(status=S.INVESTIGATING)
    with translation.override("ms"):
        expected = translation.gettext("Your information was not added:")
    assert expected == "Maklumat anda tidak ditambah:"
    client.cookies["django_language"] = "ms"
    assert expected in post(client, complaint, text="").content.decode()


def test_the_status_page_runs_the_same_queries_with_follow_ups(client, django_assert_num_queries):
    complaint = ComplaintFactory()
    TriageJob.objects.create(complaint=complaint, updated_at=timezone.now())
    for n in range(3):
        complaint_follow_up(complaint=complaint, text=f"{ADDED} ({n})")
    data = {"reference": complaint.reference, "receipt": RECEIPT}
    # the complaint with its triage job and category; its replies and follow-ups together
    with django_assert_num_queries(2):
        response = client.post(STATUS, data, HTTP_HX_REQUEST="true")
    assert response.content.decode().count('class="follow-up-sent"') == 3


def test_a_follow_up_on_a_closed_complaint_runs_a_fixed_number_of_queries(
    client, officer, django_assert_num_queries
):
    complaint = closed(assigned_to=officer)
    # look-up (complaint, messages), attachments held; then in the transaction (a savepoint
    # pair in a test): the locked complaint, the message, the audit event, the reopening
    # (update, audit event, outbox event), new_info_at; the panel again (complaint, messages)
    with django_assert_num_queries(14):
        assert post(client, complaint, text=ADDED).status_code == 201


# --- the confirmation page's receipt ----------------------------------------------------


def test_the_confirmation_page_asks_to_keep_the_receipt_and_offers_it_as_a_file(client, queue):
    body = client.post(reverse("complaints:file"), filing_data()).content.decode()
    confirm = re.search(r'<form[^>]*class="receipt-confirm".*?</form>', body, re.S).group(0)
    assert re.search(r'<input type="checkbox" name="receipt_kept"[^>]* required>', confirm)
    download = re.search(r'<form[^>]*class="receipt-download".*?</form>', body, re.S).group(0)
    assert f'action="{RECEIPT_FILE}"' in download
    assert "Download receipt as a text file" in download
    assert "js/complaints.js" in body  # the warning before leaving


def test_the_receipt_downloads_as_a_text_file_from_what_the_page_holds(client, queue):
    filed = client.post(reverse("complaints:file"), filing_data())
    complaint, receipt = filed.context["complaint"], filed.context["receipt"]
    response = client.post(RECEIPT_FILE, {"reference": complaint.reference, "receipt": receipt})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{complaint.reference}-receipt.txt"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    text = response.content.decode()
    assert f"Reference: {complaint.reference}" in text and f"Receipt: {receipt}" in text
    # Nothing about the receipt was stored to make it: the row holds its digest only.
    assert receipt not in str(Complaint.objects.values().get(pk=complaint.pk))


def test_the_receipt_file_needs_the_right_receipt(client):
    complaint = ComplaintFactory()
    response = client.post(RECEIPT_FILE, {"reference": complaint.reference, "receipt": "WRONG"})
    assert response.status_code == 404
    assert str(forms.ERR_STATUS_NOT_FOUND) in response.content.decode()
    assert client.get(RECEIPT_FILE).status_code == 405


# --- officers -----------------------------------------------------------------------------


def test_officers_see_the_follow_up_and_the_new_information_until_its_officer_opens_it(
    client, officer
):
    complaint = closed(assigned_to=officer)
    other = ComplaintFactory(assigned_to=officer)  # nothing new on this one
    complaint_follow_up(complaint=complaint, text=ADDED, files=[upload("photo.png")])
    colleague = OfficerFactory(username="anita")
    colleague.groups.add(*officer.groups.all())

    verified_login(client, colleague)
    listed = client.get(CHANGELIST, {"new_info": "yes"}).content.decode()
    assert complaint.reference in listed and other.reference not in listed
    page = client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
    body = page.content.decode()
    assert ADDED in body and "complainant" in body  # the follow-up, by the complainant
    assert "photo.png" in body  # its file with the others
    assert "Complainant followed up" in body  # and in the audit trail
    complaint.refresh_from_db()
    assert complaint.new_info_at is not None  # a colleague's look is not the officer's

    verified_login(client, officer)
    client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
    complaint.refresh_from_db()
    assert complaint.new_info_at is None
    assert complaint.reference not in client.get(CHANGELIST, {"new_info": "yes"}).content.decode()


def test_an_uploaded_name_is_kept_safe(private_media):
    complaint = ComplaintFactory()
    evil = SimpleUploadedFile("../../etc/pass\x00wd.png", upload().read(), "image/png")
    complaint_follow_up(complaint=complaint, text="", files=[evil])
    assert complaint.attachments.get().original_name == "passwd.png"
