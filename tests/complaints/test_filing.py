import threading

import pytest
from django.db import DataError, connection
from django.urls import reverse
from django.utils import timezone

from apps.complaints import forms
from apps.complaints.models import Attachment, Complaint, ComplaintEvent, TriageJob
from apps.complaints.services import complaint_file
from apps.core.exceptions import Invalid
from tests.complaints.conftest import (
    ELF,
    GOOD_DESCRIPTION,
    PDF,
    PNG,
    filing_data,
    stored_files,
    upload,
)

URL = "/complaints/"


def year():
    return timezone.localdate().year


@pytest.mark.django_db
def test_the_form_page_renders_with_a_honeypot_and_inline_validation(client):
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="website"' in body
    assert 'hx-post="/complaints/validate/?field=description"' in body
    assert 'enctype="multipart/form-data"' in body


@pytest.mark.django_db
def test_filing_answers_at_once_with_reference_and_receipt(
    client, queue, private_media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {**filing_data(), "attachments": [upload()]})
    assert response.status_code == 201
    complaint = Complaint.objects.get()
    assert complaint.reference == f"CP-{year()}-000001"
    body = response.content.decode()
    assert "<html" in body and complaint.reference in body
    receipt = response.context["receipt"]
    assert receipt in body
    assert receipt not in complaint.receipt_hash and complaint.receipt_hash.startswith("sha256$")
    # The triage job is recorded and on the queue; the response did not wait for it.
    assert complaint.triage_job.state == TriageJob.State.QUEUED
    assert queue.count == 1 and queue.job_ids == [complaint.triage_job.rq_job_id]
    assert complaint.status == Complaint.Status.RECEIVED
    attachment = Attachment.objects.get()
    assert attachment.content_type == "image/png" and attachment.size == len(PNG)
    assert len(attachment.sha256) == 64
    assert attachment.original_name == "evidence.png"
    assert "evidence" not in attachment.file.name  # stored under a random name
    [path] = stored_files(private_media)
    assert path.read_bytes() == PNG
    assert ComplaintEvent.objects.filter(action="filed").count() == 1


@pytest.mark.django_db
def test_filing_with_htmx_returns_only_the_confirmation_fragment(client, queue):
    response = client.post(URL, filing_data(), HTTP_HX_REQUEST="true")
    assert response.status_code == 201
    body = response.content.decode()
    assert "<html" not in body
    assert 'id="filed"' in body and Complaint.objects.get().reference in body


@pytest.mark.django_db
def test_anonymous_filing_keeps_no_contact_details(client, queue):
    response = client.post(URL, filing_data(anonymous="on", contact_phone="+91 98200 00000"))
    assert response.status_code == 201
    complaint = Complaint.objects.get()
    assert complaint.anonymous
    assert (complaint.contact_sealed, complaint.contact_email_index) == ("", "")


def assert_rejected(response, message, private_media):
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Complaint.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(private_media) == []


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True])
def test_a_file_over_the_per_file_limit_is_refused(client, settings, private_media, htmx):
    settings.COMPLAINTS_MAX_FILE_MB = 1
    big = upload("big.png", PNG + b"\x00" * (1024 * 1024))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(URL, {**filing_data(), "attachments": [big]}, **headers)
    assert_rejected(
        response, "“big.png” is larger than the limit of 1.0\xa0MB per file.", private_media
    )
    body = response.content.decode()
    assert ("<html" in body) is not htmx
    if htmx:  # only the error areas, out of band: the form keeps its fields and files
        assert response["HX-Reswap"] == "none"
        assert '<div id="errors-attachments" class="field-errors" hx-swap-oob="true">' in body
        assert "<form" not in body and "<input" not in body


@pytest.mark.django_db
def test_a_wrong_real_type_with_a_good_extension_is_refused(client, private_media):
    fake_pdf = upload("statement.pdf", ELF, "application/pdf")
    response = client.post(URL, {**filing_data(), "attachments": [upload(), fake_pdf]})
    assert_rejected(response, "“statement.pdf” is not an accepted file type", private_media)
    assert "application/x-executable" in response.content.decode()


@pytest.mark.django_db
def test_an_empty_file_is_refused(client, private_media):
    response = client.post(URL, {**filing_data(), "attachments": [upload("empty.pdf", b"")]})
    assert_rejected(response, "“empty.pdf” is empty (0 bytes).", private_media)


@pytest.mark.django_db
def test_too_many_files_are_refused(client, settings, private_media):
    settings.COMPLAINTS_MAX_FILES = 2
    files = [upload(f"p{i}.png") for i in range(3)]
    response = client.post(URL, {**filing_data(), "attachments": files})
    assert_rejected(response, "At most 2 files can be attached.", private_media)


@pytest.mark.django_db
def test_files_over_the_per_complaint_total_are_refused(client, settings, private_media):
    settings.COMPLAINTS_MAX_FILE_MB = 1
    settings.COMPLAINTS_MAX_TOTAL_MB = 1
    half = PDF + b"\n" * (600 * 1024)
    files = [upload("a.pdf", half, "application/pdf"), upload("b.pdf", half, "application/pdf")]
    response = client.post(URL, {**filing_data(), "attachments": files})
    assert_rejected(
        response, "The attachments together are larger than the limit of 1.0\xa0MB.", private_media
    )


@pytest.mark.django_db
def test_the_honeypot_stores_nothing(client, private_media):
    response = client.post(
        URL, {**filing_data(website="http://spam.example"), "attachments": [upload()]}
    )
    assert_rejected(response, str(forms.ERR_SPAM), private_media)


@pytest.mark.django_db
def test_contact_details_or_anonymous_are_required(client, private_media):
    data = filing_data(contact_name="", contact_email="")
    response = client.post(URL, data)
    assert_rejected(response, "Give a way to contact you, or tick", private_media)


@pytest.mark.django_db
def test_every_problem_of_a_filing_shows_in_one_answer(client, private_media):
    """The form's own checks and the filing's rules together, not one round after another."""
    data = {
        **filing_data(contact_name="", contact_email="", description="too short"),
        "attachments": [upload("notes.txt", b"plain text", "text/plain")],
    }
    response = client.post(URL, data)
    assert_rejected(response, "Ensure this value has at least 30 characters", private_media)
    body = response.content.decode()
    assert "Give a way to contact you, or tick" in body
    assert "is not an accepted file type" in body


@pytest.mark.django_db
def test_a_refused_contact_field_is_not_also_called_missing(client, private_media):
    data = filing_data(contact_name="", contact_email="not-an-email")
    response = client.post(URL, data)
    assert_rejected(response, "Enter a valid email address", private_media)
    assert "Give a way to contact you" not in response.content.decode()


@pytest.mark.django_db
def test_garbage_form_values_get_a_400_not_a_500(client, private_media):
    data = filing_data(incident_date="yesterday-ish", contact_email="not-an-email", description="x")
    response = client.post(URL, data)
    assert response.status_code == 400
    assert not Complaint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True])
def test_inline_validation_returns_the_field_errors_only(client, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    url = reverse("complaints:validate") + "?field=description"
    response = client.post(url, {"description": "too short"}, **headers)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "Ensure this value has at least 30 characters" in body
    ok = client.post(url, {"description": GOOD_DESCRIPTION}, **headers)
    assert ok.content.decode().strip() == ""
    assert client.post(reverse("complaints:validate") + "?field=website", {}).status_code == 400


@pytest.mark.django_db
def test_filenames_are_sanitised():
    from apps.complaints.services import attachment_filename_clean

    assert attachment_filename_clean("../../etc/passwd") == "passwd"
    assert attachment_filename_clean("C:\\Users\\me\\bribe receipt.pdf") == "bribe_receipt.pdf"
    assert attachment_filename_clean("evil\r\nname.png") == "evilname.png"
    assert attachment_filename_clean("..") == "attachment"
    assert len(attachment_filename_clean("a" * 500 + ".pdf")) <= 150


class BrokenUpload:
    """An upload that breaks half-way through (the client went away)."""

    name, size = "half.pdf", 10 * 1024

    def chunks(self):
        yield PDF
        raise OSError("connection reset while reading the upload")

    def seek(self, offset):
        pass


@pytest.mark.django_db
def test_an_upload_failing_half_way_leaves_no_orphan_file(private_media, queue):
    with pytest.raises(OSError):
        complaint_file(
            description=GOOD_DESCRIPTION, anonymous=True, uploads=[upload(), BrokenUpload()]
        )
    assert stored_files(private_media) == []
    assert not Complaint.objects.exists()
    assert queue.count == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_filing_gives_its_number_back_and_deletes_its_files(private_media, queue):
    # PostgreSQL refuses NUL in text: the insert fails after the number was taken.
    with pytest.raises(DataError):
        complaint_file(description="bad\x00text", anonymous=True, uploads=[upload()])
    assert stored_files(private_media) == []
    filed = complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
    assert filed.complaint.reference == f"CP-{year()}-000001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_filings_get_consecutive_references_without_gaps(queue):
    threads, per_thread = 6, 4
    errors = []
    barrier = threading.Barrier(threads)

    def file_some():
        try:
            barrier.wait()
            for _ in range(per_thread):
                complaint_file(description=GOOD_DESCRIPTION, anonymous=True)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=file_some) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    references = sorted(Complaint.objects.values_list("reference", flat=True))
    expected = [f"CP-{year()}-{n:06d}" for n in range(1, threads * per_thread + 1)]
    assert references == expected


@pytest.mark.django_db
def test_the_service_refuses_whoever_calls_it_every_rule_at_once(private_media, queue):
    fake_pdf = upload("statement.pdf", ELF, "application/pdf")
    with pytest.raises(Invalid) as refused:
        complaint_file(description=GOOD_DESCRIPTION, uploads=[upload(), fake_pdf])
    assert refused.value.errors.keys() == {None, "attachments"}
    assert "Give a way to contact you" in str(refused.value.errors[None][0])
    [message] = refused.value.errors["attachments"]
    assert "“statement.pdf” is not an accepted file type" in message
    assert "application/x-executable" in message
    assert stored_files(private_media) == []
    assert not Complaint.objects.exists() and queue.count == 0


@pytest.mark.django_db
def test_the_service_takes_only_the_filing_fields(queue):
    with pytest.raises(TypeError, match="status"):
        complaint_file(description=GOOD_DESCRIPTION, anonymous=True, status="closed")
    assert not Complaint.objects.exists()
