"""Duplicates (issue #17 item 4): the most similar complaints on a complaint's change page
(pg_trgm over the trigram index, at 100,000 complaints), merging a duplicate into its
primary (service, change page form, bulk action, two officers at once) and what the
duplicate's reporter sees."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.complaints.models import Attachment, Complaint, ComplaintEvent
from apps.complaints.selectors import SIMILAR_THRESHOLD, complaint_similar
from apps.complaints.services import (
    ERR_DUPLICATE_NEEDS_PRIMARY,
    ERR_MERGE_GONE,
    ERR_MERGE_SELF,
    complaint_merge,
    complaint_merge_many,
    complaint_transition,
)
from apps.core.exceptions import NotFound, Refused
from apps.sync.models import OutboxEvent
from tests.accounts.factories import OfficerFactory, verified_login
from tests.complaints.conftest import PNG
from tests.complaints.factories import RECEIPT, ComplaintFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:complaints_complaint_changelist")

BRIBE = (
    "The clerk at the tehsil office in Pune demanded a bribe of Rs 5,000 to update my land "
    "record and said the mutation would take months otherwise."
)
NEAR_COPY = (
    "The clerk at the tehsil office in Pune demanded a bribe of Rs 5000 to update my land "
    "records, and said the mutation would otherwise take months."
)
UNRELATED = "The streetlight by the bus stand has been dark for a week and nobody repairs it."


def change_url(complaint):
    return reverse("admin:complaints_complaint_change", args=[complaint.pk])


def merge_url(complaint):
    return reverse("admin:complaints_complaint_merge", args=[complaint.pk])


def days_ago(n):
    return timezone.now() - timedelta(days=n)


# --- Similar complaints --------------------------------------------------------------


def test_a_near_copy_ranks_first_and_unrelated_text_is_not_listed():
    complaint = ComplaintFactory(description=BRIBE, received_at=days_ago(1))
    near = ComplaintFactory(description=NEAR_COPY, received_at=days_ago(2))
    looser = ComplaintFactory(
        description="A clerk in the tehsil office asked me for a bribe to update the land record.",
        received_at=days_ago(3),
    )
    unrelated = ComplaintFactory(description=UNRELATED, received_at=days_ago(1))
    too_old = ComplaintFactory(description=BRIBE, received_at=days_ago(400))
    purged = ComplaintFactory(description=BRIBE, received_at=days_ago(1), purged_at=days_ago(0))
    similar = complaint_similar(complaint=complaint)
    references = [c.reference for c in similar]
    assert references[0] == near.reference
    assert looser.reference in references
    assert similar[0].similarity > similar[references.index(looser.reference)].similarity
    assert SIMILAR_THRESHOLD <= similar[-1].similarity <= similar[0].similarity <= 1
    for absent in (complaint, unrelated, too_old, purged):
        assert absent.reference not in references


def test_the_same_text_ranks_by_nearness_in_time_and_place():
    complaint = ComplaintFactory(description=BRIBE, incident_place="Pune", received_at=days_ago(1))
    far_elsewhere = ComplaintFactory(
        description=BRIBE, incident_place="Nagpur", received_at=days_ago(170)
    )
    far_same_place = ComplaintFactory(
        description=BRIBE, incident_place=" pune ", received_at=days_ago(170)
    )
    near_elsewhere = ComplaintFactory(
        description=BRIBE, incident_place="Nagpur", received_at=days_ago(2)
    )
    references = [c.reference for c in complaint_similar(complaint=complaint)]
    assert references == [
        near_elsewhere.reference,
        far_same_place.reference,
        far_elsewhere.reference,
    ]


def test_complaints_merged_into_it_are_listed_as_duplicates_not_as_similar(officer):
    primary = ComplaintFactory(description=BRIBE)
    duplicate = ComplaintFactory(description=NEAR_COPY)
    complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
    assert complaint_similar(complaint=primary) == []


# The words complaints are made of: 10 x 10 x 10 x 10 texts, each with a few words of its own.
WHO = "clerk officer inspector engineer constable teacher doctor patwari warden registrar"
WHERE = (
    "tehsil_office police_station district_hospital primary_school water_board "
    "passport_office electricity_office ration_shop municipal_office transport_office"
)
WHAT = (
    "demanded_a_bribe asked_for_money wanted_a_payment took_cash refused_to_act "
    "threatened_me delayed_my_file insulted_me harassed_my_family ignored_my_letters"
)
FOR = (
    "a_birth_certificate my_pension a_new_meter my_driving_licence a_land_record "
    "my_ration_card an_admission a_building_permit a_caste_certificate a_water_connection"
)


def _words(words: str, step: int) -> str:
    array = ", ".join(f"'{w.replace('_', ' ')}'" for w in words.split())
    return f"(ARRAY[{array}])[1 + mod(i / {step}, 10)]"


DESCRIPTION_SQL = (
    f"'The ' || {_words(WHO, 1)} || ' at the ' || {_words(WHERE, 10)} || ' ' || "
    f"{_words(WHAT, 100)} || ' for ' || {_words(FOR, 1000)} || '. Reference ' || "
    "left(md5(i::text), 10) || ', ' || mod(i, 97) || ' days ago.'"
)


def bulk_complaints(n: int, *, like: Complaint) -> None:
    """n complaints in one INSERT ... SELECT over generate_series, each column copied from
    `like` but the reference, the text, the place and the filing time (one every 15 minutes
    back from `like`'s), then ANALYZE, as after a real day's autovacuum."""
    varied = {
        "reference": "'CP-1999-' || lpad(i::text, 6, '0')",
        "description": DESCRIPTION_SQL,
        "incident_place": "(ARRAY['Pune', 'Nagpur', 'Nashik', 'Thane', 'Solapur'])[1 + mod(i, 5)]",
        "received_at": "t.received_at - i * interval '15 minutes'",
    }
    columns = [f.column for f in Complaint._meta.concrete_fields if not f.primary_key]
    values = [varied.get(column, f't."{column}"') for column in columns]
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO complaints_complaint ({names}) "
            f"SELECT {', '.join(values)} FROM complaints_complaint t, "
            "generate_series(1, %s) AS i WHERE t.id = %s",
            [n, like.pk],
        )
        cursor.execute("ANALYZE complaints_complaint")


@pytest.fixture
def hundred_thousand():
    """100,000 complaints (in the test's transaction: rolled back after it)."""
    like = ComplaintFactory(description=UNRELATED)
    bulk_complaints(100_000, like=like)
    return like


def change_page_queries(client, complaint) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(change_url(complaint))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_change_page_at_100000_complaints(client, officer, hundred_thousand):
    """The similar complaints come from the trigram index, and the change page runs the
    same number of queries whether it lists one similar complaint or five."""
    verified_login(client, officer)
    complaint = ComplaintFactory(description=BRIBE, received_at=days_ago(1))
    first = ComplaintFactory(description=NEAR_COPY, received_at=days_ago(3))
    client.get(change_url(complaint))  # the signed-in user is cached from here on
    few, body = change_page_queries(client, complaint)
    assert body.count('form="merge-pick"') == 1 and first.reference in body
    [ComplaintFactory(description=NEAR_COPY, received_at=days_ago(n)) for n in range(5)]
    many, body = change_page_queries(client, complaint)
    assert body.count('form="merge-pick"') == 5  # the five best of six near copies
    # The officer's two-factor device; the complaint (the audit's look); the user's and its
    # groups' permissions; the audit event (a savepoint pair around it in a test); the panel:
    # its duplicates, then the threshold and the similar complaints (a savepoint pair); the
    # complaint (the form's), its attachments with its duplicates', its triage job; the
    # form's categories, sectors and acts; its replies, notes and follow-ups; its audit trail.
    assert many == few == 22, "the change page's queries changed: update this count"

    with CaptureQueriesContext(connection) as queries:
        complaint_similar(complaint=complaint)
    [query] = [q for q in queries.captured_queries if "SIMILARITY" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "complaint_description_trgm" in plan, plan
    assert "Seq Scan on complaints_complaint" not in plan, plan


def test_the_change_page_runs_the_same_queries_however_many_duplicates(client, officer):
    """Listing its duplicates read each one's link again (a deferred field Django needs to
    relate them), a query per duplicate."""
    verified_login(client, officer)
    primary = ComplaintFactory(description=BRIBE, status=Complaint.Status.INVESTIGATING)
    complaint_merge(duplicate=ComplaintFactory(), primary=primary, officer=officer)
    client.get(change_url(primary))  # the signed-in user is cached from here on
    one, body = change_page_queries(client, primary)
    for _ in range(3):
        complaint_merge(duplicate=ComplaintFactory(), primary=primary, officer=officer)
    four, body = change_page_queries(client, primary)
    assert body.count("<li><a href=") >= 4
    assert four == one


# --- Merging -------------------------------------------------------------------------


@pytest.fixture
def pair(reference_data):
    primary = ComplaintFactory(description=BRIBE)
    duplicate = ComplaintFactory(description=NEAR_COPY)
    return duplicate, primary


def test_a_merge_closes_the_duplicate_links_both_ways_and_audits_both(pair, officer):
    duplicate, primary = pair
    merged = complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
    duplicate.refresh_from_db()
    assert merged.pk == duplicate.pk and merged.duplicate_of == primary
    assert duplicate.duplicate_of == primary and list(primary.duplicates.all()) == [duplicate]
    assert (duplicate.status, duplicate.outcome) == ("closed", "duplicate")
    assert duplicate.closed_at is not None
    primary.refresh_from_db()
    assert (primary.status, primary.duplicate_of) == ("received", None)
    merged_event = ComplaintEvent.objects.get(complaint=duplicate, action="merged")
    assert (merged_event.actor, merged_event.detail) == (officer, {"primary": primary.reference})
    added = ComplaintEvent.objects.get(complaint=primary, action="duplicate_added")
    assert (added.actor, added.detail) == (officer, {"duplicate": duplicate.reference})
    status = ComplaintEvent.objects.get(complaint=duplicate, action="status")
    assert status.detail["outcome"] == "duplicate"
    closed = OutboxEvent.objects.get(event_type="complaint.closed")
    assert closed.payload["reference"] == duplicate.reference


def test_a_duplicates_own_duplicates_follow_it_to_the_new_primary(officer, reference_data):
    first, second, primary = ComplaintFactory.create_batch(3)
    complaint_merge(duplicate=first, primary=second, officer=officer)
    complaint_merge(duplicate=second, primary=primary, officer=officer)
    first.refresh_from_db()
    assert first.duplicate_of == primary
    assert set(primary.duplicates.all()) == {first, second}
    moved = ComplaintEvent.objects.filter(complaint=first, action="merged").order_by("pk").last()
    assert moved.detail == {"primary": primary.reference, "through": second.reference}


def refusal(**kwargs) -> Refused:
    with pytest.raises(Refused) as refused:
        complaint_merge(**kwargs)
    return refused.value


def test_every_refusal_says_why_and_changes_nothing(officer, reference_data):
    a, b, c = ComplaintFactory.create_batch(3)
    assert refusal(duplicate=a, primary=a, officer=officer).message == ERR_MERGE_SELF
    complaint_merge(duplicate=b, primary=c, officer=officer)
    before = list(Complaint.objects.order_by("pk").values_list("status", "duplicate_of"))
    events = ComplaintEvent.objects.count()

    into_duplicate = refusal(duplicate=a, primary=b, officer=officer)
    assert into_duplicate.code == "primary_is_duplicate"
    assert f"merge into {c.reference} instead" in into_duplicate.message
    again = refusal(duplicate=b, primary=a, officer=officer)
    assert again.code == "already_merged" and c.reference in again.message
    # The other way round would make a cycle: c's duplicate b is c's primary.
    cycle = refusal(duplicate=c, primary=b, officer=officer)
    assert cycle.code == "primary_is_duplicate"

    closed = ComplaintFactory(status="closed", outcome="substantiated", closed_at=timezone.now())
    assert refusal(duplicate=a, primary=closed, officer=officer).code == "primary_closed"
    assert refusal(duplicate=closed, primary=a, officer=officer).code == "duplicate_closed"
    purged = ComplaintFactory(
        status="closed", outcome="withdrawn", closed_at=days_ago(9), purged_at=days_ago(1)
    )
    assert refusal(duplicate=a, primary=purged, officer=officer).code == "primary_purged"
    assert refusal(duplicate=purged, primary=a, officer=officer).code == "duplicate_closed"

    assert (
        list(
            Complaint.objects.filter(pk__in=[a.pk, b.pk, c.pk])
            .order_by("pk")
            .values_list("status", "duplicate_of")
        )
        == before
    )
    assert ComplaintEvent.objects.count() == events

    gone = ComplaintFactory()
    Complaint.objects.filter(pk=gone.pk).delete()
    with pytest.raises(NotFound) as not_found:
        complaint_merge(duplicate=a, primary=gone, officer=officer)
    assert not_found.value.message == ERR_MERGE_GONE


def test_one_refusal_in_a_bulk_merge_refuses_them_all(officer, reference_data):
    primary, a, b = ComplaintFactory.create_batch(3)
    closed = ComplaintFactory(status="closed", outcome="withdrawn", closed_at=timezone.now())
    with pytest.raises(Refused):
        complaint_merge_many(
            duplicate_ids=[a.pk, closed.pk, b.pk], primary=primary, officer=officer
        )
    assert not primary.duplicates.exists()
    with pytest.raises(Refused) as refused:
        complaint_merge_many(duplicate_ids=[a.pk, primary.pk], primary=primary, officer=officer)
    assert refused.value.message == ERR_MERGE_SELF
    assert complaint_merge_many(duplicate_ids=[a.pk, b.pk], primary=primary, officer=officer) == 2
    assert set(primary.duplicates.all()) == {a, b}


def test_closing_as_a_duplicate_needs_a_primary(officer, reference_data):
    complaint = ComplaintFactory()
    with pytest.raises(Refused) as refused:
        complaint_transition(complaint=complaint, to="closed", outcome="duplicate", by=officer)
    assert refused.value.message == ERR_DUPLICATE_NEEDS_PRIMARY
    complaint.refresh_from_db()
    assert complaint.status == "received"


@pytest.mark.django_db(transaction=True)
def test_two_officers_merging_in_opposite_directions_at_once_make_no_cycle(reference_data):
    """Both merges wait on rows another transaction holds, then run: the first merges, the
    second sees it under its locks and is refused. Without the locks both would read two
    complaints that are nobody's duplicates and make each the other's."""
    one, two = OfficerFactory(), OfficerFactory()
    x, y = ComplaintFactory.create_batch(2)
    results = {}

    def merge(name, duplicate, primary, officer):
        try:
            complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
            results[name] = "merged"
        except Exception as error:  # reported below
            results[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=merge, args=("x into y", x, y, one)),
        threading.Thread(target=merge, args=("y into x", y, x, two)),
    ]
    with transaction.atomic():
        list(Complaint.objects.select_for_update().filter(pk__in=[x.pk, y.pk]))
        for thread in threads:
            thread.start()
        with connection.cursor() as cursor:  # until both merges wait for a row lock
            waiting = 0
            while waiting < 2 and all(t.is_alive() for t in threads):
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                [(waiting,)] = cursor.fetchall()
    for thread in threads:
        thread.join()
    outcomes = sorted(results.values(), key=str)
    assert outcomes[-1] == "merged", results
    assert isinstance(outcomes[0], Refused), results
    assert outcomes[0].code in {"primary_is_duplicate", "already_merged"}
    x.refresh_from_db()
    y.refresh_from_db()
    assert {x.duplicate_of_id, y.duplicate_of_id} in ({y.pk, None}, {x.pk, None})


# --- The admin ------------------------------------------------------------------------


def test_the_change_page_shows_similar_complaints_and_merges_by_reference(client, officer):
    verified_login(client, officer)
    primary = ComplaintFactory(description=BRIBE, received_at=days_ago(2))
    duplicate = ComplaintFactory(description=NEAR_COPY)
    body = client.get(change_url(duplicate)).content.decode()
    assert "Similar complaints" in body
    assert f'name="primary" value="{primary.reference}"' in body
    assert 'id="merge-form"' in body

    response = client.post(merge_url(duplicate), {"primary": primary.reference.lower()})
    assert response.status_code == 302 and response["Location"] == change_url(primary)
    duplicate.refresh_from_db()
    assert duplicate.duplicate_of == primary
    body = client.get(change_url(primary)).content.decode()
    assert f"{duplicate.reference} is now a duplicate of {primary.reference}" in body
    assert "Duplicates merged into this complaint" in body and duplicate.reference in body
    body = client.get(change_url(duplicate)).content.decode()
    assert f"This complaint is a duplicate of {primary.reference}" in body
    assert 'id="merge-form"' not in body  # closed: nothing left to merge


def test_the_primary_shows_its_duplicates_attachments_through_the_authorised_view(
    client, officer, pair
):
    duplicate, primary = pair
    attachment = Attachment.objects.create(
        complaint=duplicate,
        file=ContentFile(PNG, name="photo.png"),
        original_name="photo.png",
        content_type="image/png",
        size=len(PNG),
        sha256="0" * 64,
        uploaded_at=timezone.now(),
    )
    complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
    verified_login(client, officer)
    body = client.get(change_url(primary)).content.decode()
    link = reverse("complaints:attachment-download", args=[attachment.pk])
    assert f'href="{link}"' in body and f"from duplicate {duplicate.reference}" in body
    assert Attachment.objects.count() == 1  # linked, not copied
    download = client.get(link)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    client.logout()
    assert client.get(link).status_code == 302  # to the login page


def test_merge_form_refusals_are_messages_and_change_nothing(client, officer, pair):
    duplicate, _primary = pair
    verified_login(client, officer)
    cases = {
        "nonsense": "A reference looks like CP-2026-000123.",
        "CP-2031-999999": "No complaint has this reference.",
        duplicate.reference: str(ERR_MERGE_SELF),
    }
    for typed, message in cases.items():
        response = client.post(merge_url(duplicate), {"primary": typed}, follow=True)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert client.get(merge_url(duplicate)).status_code == 405
    assert client.post(merge_url(duplicate)).status_code == 302  # "no reference" message
    assert not Complaint.objects.filter(duplicate_of__isnull=False).exists()


def test_the_bulk_action_marks_the_selection_as_duplicates(client, officer):
    verified_login(client, officer)
    primary, a, b = ComplaintFactory.create_batch(3)
    data = {"action": "mark_duplicate", "_selected_action": [a.pk, b.pk], "index": "0"}
    response = client.post(CHANGELIST, {**data, "primary": "junk"}, follow=True)
    assert "A reference looks like CP-2026-000123." in response.content.decode()
    response = client.post(CHANGELIST, {**data, "primary": primary.reference}, follow=True)
    assert f"2 complaint(s) marked as duplicates of {primary.reference}." in (
        response.content.decode()
    )
    assert set(primary.duplicates.all()) == {a, b}


def test_an_officer_without_change_permission_cannot_merge(client, pair):
    duplicate, primary = pair
    viewer = OfficerFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_complaint"))
    verified_login(client, viewer)
    assert 'id="merge-form"' not in client.get(change_url(duplicate)).content.decode()
    response = client.post(merge_url(duplicate), {"primary": primary.reference})
    assert response.status_code == 403
    assert not primary.duplicates.exists()


# --- The reporter's status page -----------------------------------------------------


def test_the_duplicates_status_page_names_the_primarys_reference_only(client, pair, officer):
    duplicate, primary = pair
    complaint_merge(duplicate=duplicate, primary=primary, officer=officer)
    data = {"reference": duplicate.reference, "receipt": RECEIPT}
    body = client.post("/complaints/status/", data).content.decode()
    assert f"the case carries on under {primary.reference}" in body
    assert BRIBE not in body and "tehsil" not in body  # nothing of the primary's content
    malay = client.post("/complaints/status/", data, HTTP_ACCEPT_LANGUAGE="ms").content.decode()
    assert f"kes ini diteruskan di bawah {primary.reference}" in malay
    primary_page = client.post(
        "/complaints/status/", {"reference": primary.reference, "receipt": RECEIPT}
    ).content.decode()
    assert "carries on under" not in primary_page
