"""Receipts (issue #16 item 4): the teacher downloads a signed receipt of a submitted
attempt; `receipt_verify` tells staff whether a file is genuine and matches the database."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.assessments import services
from apps.assessments.models import Answer

from .helpers import save

pytestmark = pytest.mark.django_db


def receipt_url(attempt):
    return reverse("assessments:receipt", args=[attempt.pk])


@pytest.fixture
def submitted(attempt, quiz):
    save(attempt, quiz.q["single"], choice=quiz.q["single"].right.pk)
    save(attempt, quiz.q["likert"], value=4, flagged="on")
    save(attempt, quiz.q["text"], text="Kuala Lumpur — दिल्ली")
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    attempt.refresh_from_db()
    return attempt


@pytest.fixture
def receipt_file(teacher_client, submitted, tmp_path):
    """The receipt as the teacher downloaded it, on disk."""
    path = tmp_path / f"receipt-{submitted.pk}.json"
    path.write_bytes(teacher_client.get(receipt_url(submitted)).content)
    return path


def verify(path) -> tuple[int, str]:
    """receipt_verify's exit code and output."""
    out = StringIO()
    try:
        call_command("receipt_verify", str(path), stdout=out, no_color=True)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def edit(path, change) -> None:
    document = json.loads(path.read_text())
    change(document["receipt"])
    path.write_text(json.dumps(document))


# --- Download ---------------------------------------------------------------------------
def test_the_owner_downloads_a_signed_receipt_of_every_answer(teacher_client, submitted, quiz):
    response = teacher_client.get(receipt_url(submitted))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="receipt-{submitted.pk}.json"'
    )
    document = json.loads(response.content)
    assert document["algorithm"] == "HMAC-SHA256"
    receipt = document["receipt"]
    assert receipt["attempt"] == submitted.pk
    assert receipt["teacher"] == submitted.user.username
    assert (receipt["assessment"], receipt["assessment_title"]) == (quiz.pk, quiz.title)
    assert receipt["assessment_version"] == quiz.version
    assert receipt["auto_submitted"] is False
    saved = {a.question_id: a for a in Answer.objects.filter(attempt=submitted)}
    assert [a["position"] for a in receipt["answers"]] == [1, 3, 4]
    single, likert, text = receipt["answers"]
    assert single["choices"] == [quiz.q["single"].right.pk]
    assert (likert["value"], likert["flagged"]) == (4, True)
    assert text["text"] == "Kuala Lumpur — दिल्ली"
    for answer in receipt["answers"]:
        # The server's save time, to the microsecond.
        assert answer["saved_at"] == saved[answer["question"]].saved_at.isoformat(
            timespec="microseconds"
        )
    check = services.receipt_check(document)
    assert check.genuine and check.differences == []


def test_receipt_queries(teacher_client, submitted, django_assert_num_queries):
    teacher_client.get(receipt_url(submitted))  # the user is cached from here on
    with django_assert_num_queries(2):  # the attempt (with user and assessment), its answers
        assert teacher_client.get(receipt_url(submitted)).status_code == 200


def test_another_teachers_receipt_does_not_exist(client, other_teacher, submitted):
    client.force_login(other_teacher)
    assert client.get(receipt_url(submitted)).status_code == 404


def test_anonymous_is_sent_to_log_in(client, submitted):
    assert client.get(receipt_url(submitted)).status_code == 302


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "A receipt is available once the attempt has been submitted."),
        ("ms", "Resit tersedia sebaik sahaja percubaan telah dihantar."),
        ("hi", "प्रयास जमा होने के बाद ही रसीद उपलब्ध होती है।"),
    ],
)
def test_no_receipt_while_the_attempt_runs(teacher_client, attempt, language, expected):
    teacher_client.cookies["django_language"] = language
    response = teacher_client.get(receipt_url(attempt))
    assert response.status_code == 409
    assert expected in response.content.decode()


def test_the_result_page_links_to_the_receipt(teacher_client, submitted):
    page = teacher_client.get(reverse("assessments:result", args=[submitted.pk]))
    assert receipt_url(submitted) in page.content.decode()


# --- Verify -----------------------------------------------------------------------------
def test_a_genuine_receipt_that_matches_exits_0(receipt_file):
    assert verify(receipt_file) == (0, "genuine\nmatches the database\n")


def test_a_tampered_value_is_not_genuine(receipt_file):
    edit(receipt_file, lambda receipt: receipt["answers"][1].update(value=5))
    assert verify(receipt_file) == (1, "NOT genuine (signature does not match)\n")


def test_a_receipt_signed_with_another_key_is_not_genuine(receipt_file, settings):
    settings.ASSESSMENTS_RECEIPT_KEY = "another key"
    code, output = verify(receipt_file)
    assert code == 1 and output.startswith("NOT genuine")


def test_a_genuine_receipt_after_a_database_change_lists_the_differences(
    receipt_file, submitted, quiz
):
    Answer.objects.filter(attempt=submitted, question=quiz.q["likert"]).update(value=2)
    Answer.objects.filter(attempt=submitted, question=quiz.q["text"]).delete()
    code, output = verify(receipt_file)
    assert code == 1
    likert, text = quiz.q["likert"].pk, quiz.q["text"].pk
    assert output.splitlines() == [
        "genuine",
        "differs from the database now:",
        f"  - question {likert} (position 3) value: receipt 4, database 2",
        f"  - question {text}: on the receipt, not in the database",
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", 'no "receipt" object'),
        (b'{"receipt": {}, "signature": 1}', 'no "signature" string'),
        (b'{"receipt": {}, "signature": "ab", "algorithm": "MD5"}', "\"algorithm\" is 'MD5'"),
    ],
)
def test_a_file_that_is_not_a_receipt_is_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "receipt.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=f"is not a receipt: {reason}"):
        call_command("receipt_verify", str(path))


def test_an_endless_file_is_refused_without_reading_it_all():
    """/dev/urandom (or zero) given by mistake: refused after a bounded read, not read until
    memory runs out."""
    with pytest.raises(CommandError, match="is not a receipt: larger than"):
        call_command("receipt_verify", "/dev/zero")


def test_a_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "missing.json"
    with pytest.raises(CommandError, match=f"Cannot read {path}: No such file"):
        call_command("receipt_verify", str(path))


def test_a_signature_edited_into_other_characters_is_not_genuine(receipt_file):
    """A hand-edited signature with non-ASCII characters is a clear refusal, not a crash."""
    document = json.loads(receipt_file.read_text())
    document["signature"] = "é" * 64
    receipt_file.write_text(json.dumps(document))
    with pytest.raises(CommandError, match='is not a receipt: the "signature" is not 64 hex'):
        call_command("receipt_verify", str(receipt_file))


def test_a_second_copy_of_a_key_is_not_genuine(receipt_file, submitted):
    """JSON keeps the last of two equal keys: a reader of the file sees the first. A made-up
    answer put before the genuine one must not pass as genuine."""
    raw = receipt_file.read_text()
    genuine = '"text": "Kuala Lumpur — दिल्ली"'
    assert genuine in raw
    receipt_file.write_text(raw.replace(genuine, f'"text": "Putrajaya", {genuine}'))
    with pytest.raises(CommandError, match="is not a receipt: the key 'text' appears twice"):
        call_command("receipt_verify", str(receipt_file))


def test_text_added_beside_the_signed_part_is_not_genuine(receipt_file):
    """Only "receipt" is signed: a note added next to it ("question 3: I chose B") must not
    come out of the check as part of a genuine receipt."""
    document = json.loads(receipt_file.read_text())
    document["note"] = "question 3: I chose Strongly agree"
    receipt_file.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="is not a receipt: unexpected 'note'"):
        call_command("receipt_verify", str(receipt_file))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\xff\xfe junk \x89PNG", "not JSON"),
        (b"", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"receipt": {"text": "\\ud800"}, "signature": "' + b"a" * 64 + b'", '
         b'"algorithm": "HMAC-SHA256"}', "text that is not valid Unicode"),
    ],
)  # fmt: skip
def test_junk_files_are_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "receipt.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=f"is not a receipt: {reason}"):
        call_command("receipt_verify", str(path))
