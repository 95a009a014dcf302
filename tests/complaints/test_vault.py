"""The identity vault (issue #17 item 2): contact details sealed at rest, found by a blind
index, revealed one at a time with a permission and an audit event, and re-sealed by
`complaints_vault_rotate` when a key changes."""

import hashlib
import hmac
import json
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone, translation

from apps.complaints import vault
from apps.complaints.models import Complaint, ComplaintEvent, TriageJob
from apps.complaints.services import (
    ERR_REVEAL_NOT_ALLOWED,
    ERR_VAULT_UNREADABLE,
    complaint_contact_reveal,
    complaint_file,
    complaint_transition,
)
from apps.core.exceptions import Refused
from apps.sync.models import OutboxEvent
from tests.accounts.factories import verified_login
from tests.complaints.conftest import filing_data
from tests.complaints.factories import TriageJobFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:complaints_complaint_changelist")
KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
ASHA = vault.Contact(name="Asha Patil", email="Asha.Patil@example.org", phone="+91 98200 00000")


def contact_url(complaint):
    return reverse("admin:complaints_complaint_contact", args=[complaint.pk])


def change_url(complaint):
    return reverse("admin:complaints_complaint_change", args=[complaint.pk])


@pytest.fixture
def keys(settings):
    settings.COMPLAINTS_VAULT_KEYS = [KEY_A]
    settings.COMPLAINTS_VAULT_INDEX_KEYS = ["index-key-one-" + "x" * 32]
    return settings


def asha(**kwargs):
    return TriageJobFactory(
        state=TriageJob.State.DONE,
        complaint__contact_name=ASHA.name,
        complaint__contact_email=ASHA.email,
        complaint__contact_phone=ASHA.phone,
        **kwargs,
    ).complaint


def raw_row(complaint) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM complaints_complaint WHERE id = %s", [complaint.pk])
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def database_text() -> str:
    """Every row of every table as text: what a dump of the database would show."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [name for (name,) in cursor.fetchall()]
        text = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            text.extend(row for (row,) in cursor.fetchall())
    return "\n".join(text).casefold()


# --- At rest ---------------------------------------------------------------------------


def test_round_trip_and_nothing_for_no_contact(keys):
    sealed = vault.contact_seal(ASHA)
    assert sealed.startswith("gAAAA")  # a Fernet token, nothing readable
    assert "asha" not in sealed.casefold()
    assert vault.contact_open(sealed) == ASHA
    assert sealed != vault.contact_seal(ASHA)  # a fresh IV each time: equal contacts differ
    unicode = vault.Contact(name="आशा पाटिल", email="", phone="")
    assert vault.contact_open(vault.contact_seal(unicode)) == unicode
    assert vault.contact_seal(vault.Contact()) == "" and vault.contact_open("") == vault.Contact()


def test_a_wrong_key_opens_nothing(keys):
    sealed = vault.contact_seal(ASHA)
    keys.COMPLAINTS_VAULT_KEYS = [KEY_B]
    with pytest.raises(vault.VaultError):
        vault.contact_open(sealed)
    with pytest.raises(vault.VaultError):
        vault.contact_open(sealed[:-4] + "AAAA")  # tampered


def test_a_filing_stores_only_ciphertext_and_the_blind_index(
    client, keys, reference_data, queue, run_worker, django_capture_on_commit_callbacks
):
    data = filing_data(contact_name=ASHA.name, contact_email=ASHA.email, contact_phone=ASHA.phone)
    with django_capture_on_commit_callbacks(execute=True):  # the triage job is enqueued
        assert client.post("/complaints/", data).status_code == 201
    run_worker()  # triage ran: its inputs and outputs are in the rows too
    complaint = Complaint.objects.get()
    assert complaint.triage_job.state == TriageJob.State.DONE
    complaint_transition(complaint=complaint, to="closed", outcome="withdrawn", by=None)
    assert OutboxEvent.objects.filter(event_type="complaint.closed").exists()
    row = raw_row(complaint)
    assert not {"contact_name", "contact_email", "contact_phone"} & set(row)
    assert Fernet(KEY_A).decrypt(row["contact_sealed"].encode())  # the key from the settings
    assert vault.contact_open(row["contact_sealed"]) == ASHA
    expected = hmac.new(
        keys.COMPLAINTS_VAULT_INDEX_KEYS[0].encode(), b"asha.patil@example.org", hashlib.sha256
    ).hexdigest()
    assert row["contact_email_index"] == expected
    # A dump of the whole database names nobody: not the complaint row, the audit trail,
    # the triage job, the outbox or any index.
    dump = database_text()
    for plain in ("asha patil", "asha.patil@example.org", "98200"):
        assert plain not in dump
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'complaints_complaint'")
        indexes = " ".join(d for (d,) in cursor.fetchall())
    assert "contact_name" not in indexes and "contact_email)" not in indexes


def test_the_language_model_never_receives_contact_details(
    keys, reference_data, fake_llm, queue, run_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        filed = complaint_file(
            **filing_data(
                contact_name=ASHA.name, contact_email=ASHA.email, contact_phone=ASHA.phone
            )
        )
    run_worker()
    [request] = fake_llm.requests
    assert "asha" not in json.dumps(request).casefold()
    assert Complaint.objects.get(pk=filed.complaint.pk).triage_backend == "openai"


def test_the_changelist_and_the_change_page_decrypt_nothing(
    client, keys, supervisor, django_assert_num_queries
):
    for _ in range(60):  # more than a page
        asha()
    verified_login(client, supervisor)
    client.get(CHANGELIST)  # the signed-in user is cached from here on
    with mock.patch.object(Fernet, "decrypt", side_effect=AssertionError("decrypted")) as opened:
        # the two-factor device, the user's and their groups' permissions, the filters'
        # categories, sectors, acts and officers, the count, the page of complaints (with
        # classification, officer and triage job: ciphertext read, never opened), the date
        # hierarchy's range and days: the same at 60 complaints as at 6
        with django_assert_num_queries(11):
            response = client.get(CHANGELIST)
        assert response.status_code == 200
        assert "asha" not in response.content.decode().casefold()
        assert client.get(CHANGELIST + "?q=asha.patil@example.org").status_code == 200
        response = client.get(change_url(Complaint.objects.first()))
        assert response.status_code == 200
        assert "asha" not in response.content.decode().casefold()
        assert "Reveal contact details" in response.content.decode()
    opened.assert_not_called()


# --- Finding a complainant ---------------------------------------------------------------


def copies(n: int, *, like: Complaint) -> None:
    """n copies of `like` in one INSERT ... SELECT (its token, each with a reference, a filing
    time and an email index of its own), then ANALYZE, as after a day's autovacuum."""
    varied = {
        "reference": "'CP-1999-' || lpad(i::text, 6, '0')",
        "received_at": "t.received_at - i * interval '15 minutes'",
        "contact_email_index": "md5(i::text) || md5((-i)::text)",
    }
    columns = [f.column for f in Complaint._meta.concrete_fields if not f.primary_key]
    values = ", ".join(varied.get(column, f't."{column}"') for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO complaints_complaint ({names}) SELECT {values} "
            "FROM complaints_complaint t, generate_series(1, %s) AS i WHERE t.id = %s",
            [n, like.pk],
        )
        cursor.execute("ANALYZE complaints_complaint")


def test_the_changelist_and_the_email_search_at_100000_complaints(
    client, keys, supervisor, django_assert_num_queries
):
    copies(100_000, like=asha())
    needle = TriageJobFactory(complaint__contact_email="needle@example.org").complaint
    verified_login(client, supervisor)
    client.get(CHANGELIST)  # the signed-in user is cached from here on
    with mock.patch.object(Fernet, "decrypt", side_effect=AssertionError("decrypted")):
        with django_assert_num_queries(11):  # as at 60 complaints
            assert client.get(CHANGELIST).status_code == 200
        with django_assert_num_queries(11):  # the same queries, one of them the search
            response = client.get(CHANGELIST, {"q": "Needle@example.org"})
    assert [c.reference for c in response.context["cl"].result_list] == [needle.reference]
    # PostgreSQL's own choice on 100,000 rows: the email index, not a scan of every row.
    found, _ = site._registry[Complaint].get_search_results(
        None, Complaint.objects.all(), "needle@example.org"
    )
    plan = found.explain()
    assert "complaint_email_index" in plan and "Seq Scan" not in plan, plan


def test_an_email_is_found_by_its_blind_index_exactly(client, keys, officer):
    found = asha()
    other = TriageJobFactory(complaint__contact_email="ravi@example.org").complaint
    verified_login(client, officer)

    def listed(term):
        response = client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200
        return {c.reference for c in response.context["cl"].result_list}

    assert "whole email address" in client.get(CHANGELIST).content.decode()  # the box says so
    assert listed("asha.patil@example.org") == {found.reference}
    assert listed("  ASHA.PATIL@Example.org ") == {found.reference}
    assert listed("asha.patil@example") == set()  # no partial match: the index is a hash
    assert listed("ravi@example.org") == {other.reference}
    # A second index key (being rotated in) still finds rows indexed with the first.
    keys.COMPLAINTS_VAULT_INDEX_KEYS = [
        "index-key-two-" + "y" * 32,
        *keys.COMPLAINTS_VAULT_INDEX_KEYS,
    ]
    assert listed("asha.patil@example.org") == {found.reference}


def test_the_email_search_uses_its_index(rf, keys, officer):
    request = rf.get(CHANGELIST, {"q": "asha@example.org"})
    request.user = officer
    model_admin = site._registry[Complaint]
    found, _ = model_admin.get_search_results(request, Complaint.objects.all(), "asha@example.org")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        plan = found.explain()
    assert "Seq Scan" not in plan
    assert "complaint_email_index" in plan


# --- Revealing ---------------------------------------------------------------------------


def test_a_supervisor_reveals_and_the_reveal_is_audited(client, keys, supervisor):
    complaint = asha()
    verified_login(client, supervisor)
    page = client.get(contact_url(complaint))
    assert page.status_code == 200
    assert "asha" not in page.content.decode().casefold()  # GET explains, opens nothing
    assert not ComplaintEvent.objects.filter(action="contact_revealed").exists()

    response = client.post(contact_url(complaint))
    assert response.status_code == 200
    body = response.content.decode()
    assert ASHA.name in body and ASHA.email in body and ASHA.phone in body
    assert "no-store" in response["Cache-Control"]
    event = ComplaintEvent.objects.get(complaint=complaint, action="contact_revealed")
    assert event.actor == supervisor and event.at is not None
    assert event.detail == {"details": ["name", "email", "phone"]}  # which, never what
    client.post(contact_url(complaint))
    assert ComplaintEvent.objects.filter(action="contact_revealed").count() == 2
    # The audit trail on the change page says who revealed it.
    assert "Contact details revealed" in client.get(change_url(complaint)).content.decode()


def test_without_the_permission_nothing_is_opened(client, keys, officer):
    complaint = asha()
    verified_login(client, officer)
    assert not officer.has_perm("complaints.view_complainant_identity")
    change = client.get(change_url(complaint)).content.decode()
    assert contact_url(complaint) not in change
    assert str(ERR_REVEAL_NOT_ALLOWED).replace("'", "&#x27;") in change
    with mock.patch.object(Fernet, "decrypt") as opened:
        for method in (client.get, client.post):
            response = method(contact_url(complaint))
            assert response.status_code == 403
            body = response.content.decode()
            assert str(ERR_REVEAL_NOT_ALLOWED).replace("'", "&#x27;") in body
            assert "asha" not in body.casefold()
    opened.assert_not_called()
    assert not ComplaintEvent.objects.filter(action="contact_revealed").exists()
    with pytest.raises(Refused):
        complaint_contact_reveal(complaint=complaint, by=officer)


def test_the_refusal_reads_in_malay(client, keys, officer):
    complaint = asha()
    verified_login(client, officer)
    response = client.get(contact_url(complaint), HTTP_ACCEPT_LANGUAGE="ms")
    assert response.status_code == 403
    assert "Akaun anda tidak boleh melihat butiran hubungan pengadu" in response.content.decode()
    with translation.override("ms"):
        assert str(ComplaintEvent.Action.CONTACT_REVEALED.label) == "Butiran hubungan didedahkan"


def test_a_contact_no_key_opens_is_refused_with_a_message(client, keys, supervisor):
    complaint = asha()
    keys.COMPLAINTS_VAULT_KEYS = [KEY_B]
    verified_login(client, supervisor)
    response = client.post(contact_url(complaint))
    assert response.status_code == 409
    assert str(ERR_VAULT_UNREADABLE) in response.content.decode()
    assert not ComplaintEvent.objects.filter(action="contact_revealed").exists()


def test_anonymous_and_unknown_complaints(client, keys, supervisor):
    anonymous = TriageJobFactory(complaint__anonymous=True, complaint__contact_email="").complaint
    verified_login(client, supervisor)
    response = client.post(contact_url(anonymous))
    assert response.status_code == 200
    assert "holds no contact details" in response.content.decode()
    assert not ComplaintEvent.objects.filter(action="contact_revealed").exists()
    gone = reverse("admin:complaints_complaint_contact", args=[999999])
    assert client.get(gone).status_code == 404
    assert client.put(contact_url(anonymous)).status_code == 405


# --- Rotation ----------------------------------------------------------------------------


def rotate(*args):
    out = mock.Mock()
    out.write = mock.Mock()
    call_command("complaints_vault_rotate", "--no-progress", *args, stdout=out)
    return "".join(str(call.args[0]) for call in out.write.call_args_list)


def test_rotation_dry_run_real_rerun_and_the_old_key_removed(keys):
    complaints = [asha() for _ in range(5)]
    TriageJobFactory(complaint__anonymous=True, complaint__contact_email="")  # nothing to seal
    before = {c.pk: raw_row(c)["contact_sealed"] for c in complaints}
    keys.COMPLAINTS_VAULT_KEYS = [KEY_B, KEY_A]  # step 1: the new key first, the old one kept
    keys.COMPLAINTS_VAULT_INDEX_KEYS = [
        "index-key-two-" + "y" * 32,
        *keys.COMPLAINTS_VAULT_INDEX_KEYS,
    ]

    assert "5 of 5 contact(s) would be re-sealed" in rotate("--dry-run")
    assert {c.pk: raw_row(c)["contact_sealed"] for c in complaints} == before

    assert "5 of 5 contact(s) re-sealed" in rotate("--batch-size", "2")
    assert "0 of 5 contact(s) re-sealed" in rotate()  # idempotent: a rerun changes nothing

    keys.COMPLAINTS_VAULT_KEYS = [KEY_B]  # step 3: the old key removed
    keys.COMPLAINTS_VAULT_INDEX_KEYS = keys.COMPLAINTS_VAULT_INDEX_KEYS[:1]
    for complaint in complaints:
        row = raw_row(complaint)
        assert row["contact_sealed"] != before[complaint.pk]
        assert vault.contact_open(row["contact_sealed"]) == ASHA
        assert row["contact_email_index"] == vault.email_index(ASHA.email)
    keys.COMPLAINTS_VAULT_KEYS = [KEY_A]
    with pytest.raises(vault.VaultError):  # the old key alone no longer opens them
        vault.contact_open(raw_row(complaints[0])["contact_sealed"])


def test_rotation_resumes_after_an_interruption(keys):
    complaints = [asha() for _ in range(4)]
    keys.COMPLAINTS_VAULT_KEYS = [KEY_B, KEY_A]
    from apps.complaints.services import vault_rotate_batch

    first = vault_rotate_batch(after_pk=0, size=2)  # then the command was stopped
    assert (first.seen, first.changed) == (2, 2)
    assert "2 of 4 contact(s) re-sealed" in rotate()
    keys.COMPLAINTS_VAULT_KEYS = [KEY_B]
    assert all(vault.contact_open(raw_row(c)["contact_sealed"]) == ASHA for c in complaints)


def test_rotation_names_what_no_key_opens(keys):
    kept = asha()
    keys.COMPLAINTS_VAULT_KEYS = [KEY_C]  # the old key was removed before rotating
    with pytest.raises(CommandError, match=kept.reference):
        rotate()
    keys.COMPLAINTS_VAULT_KEYS = [KEY_A]
    assert vault.contact_open(raw_row(kept)["contact_sealed"]) == ASHA  # nothing destroyed
    with pytest.raises(CommandError):
        rotate("--batch-size", "0")


# --- Settings ----------------------------------------------------------------------------


def test_rotation_with_the_keys_missing_names_a_few_and_counts_the_rest(keys):
    """Without the old key every contact is unreadable: the error stays one readable line,
    not 100,000 references."""
    kept = [asha() for _ in range(12)]
    keys.COMPLAINTS_VAULT_KEYS = [KEY_C]
    with pytest.raises(CommandError) as refused:
        rotate()
    message = str(refused.value)
    assert message.startswith("12 contact(s) no configured key opens")
    assert sum(c.reference in message for c in kept) == 10 and message.endswith("and 2 more")


@pytest.mark.parametrize("size", ["0", "10001", "100000000000000000000"])
def test_a_batch_size_out_of_range_is_refused_with_a_message(keys, size):
    asha()
    with pytest.raises(CommandError, match="--batch-size must be from 1 to 10000"):
        rotate("--batch-size", size)


def test_an_unusable_key_fails_the_system_check(settings):
    from apps.complaints.checks import vault_keys_usable

    settings.COMPLAINTS_VAULT_KEYS = ["not-a-fernet-key"]
    vault._fernets.cache_clear()
    [error] = vault_keys_usable(None)
    assert error.id == "complaints.E001"
    settings.COMPLAINTS_VAULT_KEYS = [KEY_A]
    assert vault_keys_usable(None) == []


def test_development_keys_derive_from_the_secret_key(settings):
    settings.COMPLAINTS_VAULT_KEYS = []
    sealed = vault.contact_seal(ASHA)
    assert vault.contact_open(sealed) == ASHA
    settings.SECRET_KEY = "another-secret-" + "z" * 40
    with pytest.raises(vault.VaultError):
        vault.contact_open(sealed)


# --- The migration -----------------------------------------------------------------------


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def raw_contact(reference) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM complaints_complaint WHERE reference = %s", [reference])
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    return {name: value for name, value in row.items() if name.startswith("contact_")}


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_plain_contacts_and_going_back_opens_them(keys):
    plain = [("complaints", "0005_duplicates")]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = migrate(plain).get_model("complaints", "Complaint")
        now = timezone.now()
        common = {"receipt_hash": "x", "received_at": now, "due_at": now, "description": "d"}
        old.objects.create(
            reference="CP-2020-000001",
            contact_name=ASHA.name,
            contact_email=ASHA.email,
            contact_phone=ASHA.phone,
            **common,
        )
        old.objects.create(reference="CP-2020-000002", anonymous=True, **common)

        migrate([("complaints", "0006_identity_vault")])
        sealed = raw_contact("CP-2020-000001")
        assert set(sealed) == {"contact_sealed", "contact_email_index"}
        assert vault.contact_open(sealed["contact_sealed"]) == ASHA
        assert sealed["contact_email_index"] == vault.email_index(ASHA.email)
        assert raw_contact("CP-2020-000002") == {"contact_sealed": "", "contact_email_index": ""}
        assert "asha" not in database_text()

        migrate(plain)
        assert raw_contact("CP-2020-000001") == {
            "contact_name": ASHA.name,
            "contact_email": ASHA.email,
            "contact_phone": ASHA.phone,
        }
    finally:
        migrate(latest)
