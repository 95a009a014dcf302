import csv

import pytest
from django.contrib.admin.sites import site
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.complaints.models import (
    TEXT_SEARCH_FIELDS,
    Category,
    Complaint,
    ComplaintEvent,
    Sector,
    TriageJob,
)
from apps.complaints.services import ERR_OUTCOME_REQUIRED, complaint_file
from apps.sync.models import OutboxEvent
from tests.accounts.factories import TEST_PASSWORD, TeacherFactory, verified_login
from tests.complaints.conftest import GOOD_DESCRIPTION, form_data, upload
from tests.complaints.factories import ComplaintFactory, TriageJobFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:complaints_complaint_changelist")


def change_url(complaint):
    return reverse("admin:complaints_complaint_change", args=[complaint.pk])


def make(n, **kwargs):
    category = Category.objects.get(code="bribery")
    sector = Sector.objects.get(code="police")
    return [
        TriageJobFactory(
            complaint=ComplaintFactory(category=category, sector=sector, **kwargs),
            state=TriageJob.State.DONE,
        ).complaint
        for _ in range(n)
    ]


def changelist_queries(client, n):
    make(n)
    client.get(CHANGELIST)  # the signed-in user is cached from here on
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.decode().count('class="action-select"') == Complaint.objects.count()
    return len(queries)


def test_the_changelist_runs_a_constant_number_of_queries(
    client, officer, django_assert_num_queries
):
    verified_login(client, officer)
    few = changelist_queries(client, 2)
    with django_assert_num_queries(few):
        client.get(CHANGELIST)
    make(20, assigned_to=officer)
    with django_assert_num_queries(few):
        assert client.get(CHANGELIST).status_code == 200


def test_text_search_can_use_the_indexes(rf, officer):
    """The admin's own search query matches the indexed expressions: with plain scans off,
    PostgreSQL answers it from the reference index and the three trigram indexes. (On a
    tiny test table it would rightly prefer a scan; on 100,000 complaints a scan took over
    500 ms.)"""
    request = rf.get(CHANGELIST, {"q": "pothole"})
    request.user = officer
    model_admin = site._registry[Complaint]
    found, _ = model_admin.get_search_results(request, Complaint.objects.all(), "pothole")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        plan = found.explain()
    assert "Seq Scan" not in plan
    assert "complaint_reference_upper" in plan
    for field in TEXT_SEARCH_FIELDS:
        assert f"complaint_{field}_trgm" in plan


def test_officers_filter_and_search(client, officer):
    verified_login(client, officer)
    [mine] = make(1, assigned_to=officer)
    [overdue] = make(1, due_at=timezone.now() - timezone.timedelta(days=1))
    failed = TriageJobFactory(
        state=TriageJob.State.FAILED, complaint__contact_email="asha.rao@example.org"
    ).complaint

    def listed(query):
        response = client.get(CHANGELIST + query)
        assert response.status_code == 200
        return {c.reference for c in response.context["cl"].result_list}

    assert listed(f"?officer={officer.pk}") == {mine.reference}
    assert listed("?overdue=yes") == {overdue.reference}
    assert overdue.reference not in listed("?overdue=no")
    assert listed("?triage=failed") == {failed.reference}
    assert listed("?status=received&category__id__exact=" + str(mine.category_id)) == {
        mine.reference,
        overdue.reference,
    }
    assert listed(f"?q={failed.reference}") == {failed.reference}
    # An exact email through its blind index, however it is written; never a part of one.
    assert listed("?q=+Asha.Rao@Example.ORG") == {failed.reference}
    assert listed("?q=asha.rao@example") == set()
    [lamp] = make(1, description="The streetlight by the Pune bus stand has been dark a week.")
    assert listed("?q=STREETLIGHT+by") == {lamp.reference}  # any case, any part of the text
    body = client.get(CHANGELIST + "?overdue=yes").content.decode()
    assert "complaint-overdue" in body


def test_viewing_a_complaint_is_audited(client, officer):
    verified_login(client, officer)
    [complaint] = make(1)
    assert client.get(change_url(complaint)).status_code == 200
    event = ComplaintEvent.objects.get(complaint=complaint, action="viewed")
    assert event.actor == officer


def test_an_override_is_recorded_with_the_original_value(client, officer):
    verified_login(client, officer)
    [complaint] = make(1, triage_backend="rules")
    manual = TriageJobFactory(state=TriageJob.State.MANUAL).complaint
    extortion = Category.objects.get(code="extortion")
    response = client.post(change_url(complaint), form_data(complaint, category=extortion.pk))
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.category == extortion
    [override] = complaint.overrides.all()
    assert (override.field, override.original, override.new, override.by) == (
        "category",
        "bribery",
        "extortion",
        officer,
    )
    # A second override keeps the AI's original, not the officer's first correction.
    abuse = Category.objects.get(code="abuse-of-power")
    client.post(change_url(complaint), form_data(complaint, category=abuse.pk))
    assert complaint.overrides.order_by("at").last().original == "bribery"
    assert ComplaintEvent.objects.filter(complaint=complaint, action="override").count() == 2
    # Classifying after manual triage is not an override of the AI: nothing to compare with.
    client.post(change_url(manual), form_data(manual, category=abuse.pk))
    assert not manual.overrides.exists()
    assert ComplaintEvent.objects.filter(complaint=manual, action="override").exists()
    accuracy = client.get(reverse("admin:complaints_triageoverride_changelist"))
    assert accuracy.status_code == 200
    assert "triaged by AI" in accuracy.content.decode()


def test_notes_stay_internal_and_replies_are_public(client, officer):
    verified_login(client, officer)
    [complaint] = make(1)
    client.post(
        change_url(complaint), form_data(complaint, note="Check CCTV.", reply="We are on it.")
    )
    kinds = dict(complaint.messages.values_list("kind", "body"))
    assert kinds == {"note": "Check CCTV.", "reply": "We are on it."}
    actions = set(
        ComplaintEvent.objects.filter(complaint=complaint).values_list("action", flat=True)
    )
    assert {"note", "reply"} <= actions


def test_closing_needs_an_outcome_and_writes_an_outbox_event(client, officer):
    verified_login(client, officer)
    [complaint] = make(1)
    response = client.post(change_url(complaint), form_data(complaint, status="closed"))
    assert response.status_code == 200
    assert str(ERR_OUTCOME_REQUIRED) in response.content.decode()
    assert not OutboxEvent.objects.exists()
    response = client.post(
        change_url(complaint), form_data(complaint, status="closed", outcome="substantiated")
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.is_closed and complaint.closed_at
    event = OutboxEvent.objects.get()
    assert event.event_type == "complaint.closed"
    assert event.aggregate_key == f"complaint:{complaint.reference}"
    payload = event.payload
    assert payload["external_key"] == event.aggregate_key
    assert (payload["reference"], payload["status"], payload["outcome"]) == (
        complaint.reference,
        "closed",
        "substantiated",
    )
    assert (payload["category"], payload["sector"]) == ("bribery", "police")
    assert {"act", "received_at", "closed_at"} <= set(payload)
    assert all(isinstance(v, str | int | float | bool) for v in payload.values())


def action(client, name, complaints, follow=False, **extra):
    data = {"action": name, "_selected_action": [c.pk for c in complaints], **extra}
    return client.post(CHANGELIST, data, follow=follow)


def test_bulk_assign_to_me_and_set_status(client, officer):
    verified_login(client, officer)
    complaints = make(3)
    assert action(client, "assign_to_me", complaints).status_code == 302
    assert set(Complaint.objects.values_list("assigned_to", "status")) == {(officer.pk, "assigned")}
    action(client, "set_status", complaints, status="closed", outcome="referred")
    assert set(Complaint.objects.values_list("status", "outcome")) == {("closed", "referred")}
    assert OutboxEvent.objects.filter(event_type="complaint.closed").count() == 3
    response = action(client, "set_status", complaints, status="closed", outcome="", follow=True)
    assert str(ERR_OUTCOME_REQUIRED) in response.content.decode()


def test_bulk_requeue_triage(client, officer, queue):
    verified_login(client, officer)
    failed = TriageJobFactory(state=TriageJob.State.FAILED, attempts=5).complaint
    action(client, "requeue_triage", [failed])
    failed.triage_job.refresh_from_db()
    assert failed.triage_job.state == TriageJob.State.QUEUED and failed.triage_job.attempts == 0
    assert ComplaintEvent.objects.filter(complaint=failed, action="triage_requeued").exists()


def test_export_is_for_supervisors_and_audited(client, officer, supervisor):
    complaints = make(2)
    verified_login(client, officer)
    response = client.get(CHANGELIST)
    assert "export_csv" not in response.content.decode()
    verified_login(client, supervisor)
    response = action(client, "export_csv", complaints)
    assert response["Content-Disposition"].startswith('attachment; filename="complaints-')
    rows = list(csv.reader(b"".join(response.streaming_content).decode().splitlines()))
    assert rows[0][0] == "reference" and len(rows) == 3
    assert {row[0] for row in rows[1:]} == {c.reference for c in complaints}
    assert ComplaintEvent.objects.filter(action="exported", actor=supervisor).count() == 2


def test_export_neutralises_formulas_in_what_the_public_typed(client, supervisor):
    [complaint] = make(1, description='=HYPERLINK("http://evil.example","x")', incident_place="@A1")
    verified_login(client, supervisor)
    response = action(client, "export_csv", [complaint])
    header, row = csv.reader(b"".join(response.streaming_content).decode().splitlines())
    cells = dict(zip(header, row, strict=True))
    assert cells["description"] == "'" + complaint.description
    assert cells["incident_place"] == "'@A1"


def test_no_delete_for_officers_and_the_audit_trail_is_read_only(client, officer):
    verified_login(client, officer)
    [complaint] = make(1)
    delete = reverse("admin:complaints_complaint_delete", args=[complaint.pk])
    assert client.get(delete).status_code == 403
    event = ComplaintEvent.objects.create(complaint=complaint, action="filed", at=timezone.now())
    request = type("R", (), {"user": officer})()
    event_admin = site._registry[ComplaintEvent]
    assert not event_admin.has_change_permission(request, event)
    assert not event_admin.has_delete_permission(request, event)
    assert not site._registry[Complaint].has_add_permission(request)


@pytest.fixture
def attachment(queue):
    complaint_file(description=GOOD_DESCRIPTION, anonymous=True, uploads=[upload("photo.png")])
    return Complaint.objects.get().attachments.get()


def test_officers_download_attachments_through_an_audited_view(client, officer, attachment):
    verified_login(client, officer)
    url = reverse("complaints:attachment-download", args=[attachment.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="photo.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content)[:4] == b"\x89PNG"
    event = ComplaintEvent.objects.get(action="downloaded")
    assert (event.actor, event.detail["name"]) == (officer, "photo.png")
    assert url in client.get(change_url(attachment.complaint)).content.decode()


def test_attachments_are_not_for_the_public_or_teachers(client, attachment):
    url = reverse("complaints:attachment-download", args=[attachment.pk])
    assert client.get(url).status_code == 302  # to the login page
    teacher = TeacherFactory()
    client.login(username=teacher.username, password=TEST_PASSWORD)
    assert client.get(url).status_code == 403
    assert not ComplaintEvent.objects.filter(action="downloaded").exists()


def test_officers_find_colleagues_with_the_autocomplete(client, officer):
    verified_login(client, officer)
    response = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "complaints",
            "model_name": "complaint",
            "field_name": "assigned_to",
            "term": "rav",
        },
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["ravi"]


def test_the_groups_carry_the_permissions(officer, supervisor):
    assert officer.has_perm("complaints.view_dashboard")
    assert officer.has_perm("complaints.download_attachment")
    assert not officer.has_perm("complaints.export_complaint")
    assert not officer.has_perm("complaints.delete_complaint")
    assert supervisor.has_perm("complaints.export_complaint")
    assert supervisor.has_perm("complaints.change_triagerule")


def test_failed_triage_shows_with_its_error(client, officer):
    verified_login(client, officer)
    job = TriageJobFactory(state=TriageJob.State.FAILED, reason="HTTP 500 from the triage API: x")
    assert "Failed" in client.get(CHANGELIST + "?triage=failed").content.decode()
    body = client.get(change_url(job.complaint)).content.decode()
    assert "HTTP 500 from the triage API: x" in body


@pytest.mark.parametrize(
    ("language", "names"),
    [
        ("ms", ["Aduan", "Peraturan triaj", "Pindaan triaj", "Peristiwa aduan", "Kategori:"]),
        ("hi", ["शिकायतें", "ट्राइएज नियम", "शिकायत घटनाएँ", "श्रेणी:"]),
    ],
)
def test_the_admin_names_complaints_in_the_officers_language(client, officer, language, names):
    """The app, its models and the classification fields: they were English on every page."""
    complaint = ComplaintFactory()
    verified_login(client, officer)
    client.cookies["django_language"] = language
    body = client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
    body = body.content.decode()
    for name in names:
        assert name in body
    for english in (">Triage rules<", ">Complaint events<", ">Category:<"):
        assert english not in body
