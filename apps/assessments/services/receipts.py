"""Receipts: a submitted attempt's answers, each with the server time it was saved, signed
so that staff can later tell a genuine receipt from an edited one and compare it with the
database (evidence when a teacher says "I answered that").

The file is {"receipt": {...}, "signature": hex, "algorithm": "HMAC-SHA256"}; the signature
is an HMAC over the receipt as canonical JSON (sorted keys, no spaces, UTF-8), keyed by
ASSESSMENTS_RECEIPT_KEY through salted_hmac with a fixed salt, so the key is never used
bare and a key shared with SECRET_KEY signs nothing else."""

import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from apps.assessments.models import Answer, Attempt
from apps.assessments.services.errors import ERR_NOT_AVAILABLE, AttemptNotFound, AttemptRefused

ALGORITHM = "HMAC-SHA256"
SIGNATURE = re.compile(r"[0-9a-f]{64}")  # hexdigest of SHA-256
RECEIPT_MAX_BYTES = 16 * 1024 * 1024  # far above any attempt's answers
KEY_SALT = "crowdproof.assessments.receipt"
ERR_RECEIPT_NOT_SUBMITTED = _("A receipt is available once the attempt has been submitted.")

# The receipt's fields about the attempt, then those of each answer, in reporting order.
ATTEMPT_FIELDS = (
    "attempt",
    "teacher",
    "assessment",
    "assessment_title",
    "assessment_version",
    "submitted_at",
    "auto_submitted",
)
ANSWER_FIELDS = ("position", "choices", "value", "text", "flagged", "saved_at")


class ReceiptInvalid(ValueError):
    """The file is not a receipt at all (not JSON, missing parts, another algorithm)."""


@dataclass(frozen=True)
class ReceiptCheck:
    genuine: bool
    differences: list[str] = field(default_factory=list)  # receipt vs database, when genuine


def _iso(moment: datetime | None) -> str | None:
    # UTC with microseconds: the exact value stored, whatever the server's time zone.
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def receipt_body(attempt: Attempt) -> dict:
    """The attempt (loaded with its user and assessment) and its answers as the receipt
    states them: one query for the answers."""
    answers = (
        Answer.objects.filter(attempt=attempt)
        .values_list(
            "question_id",
            "question__position",
            "choice_ids",
            "value",
            "text",
            "flagged",
            "saved_at",
        )
        .order_by("question__position", "question_id")
    )
    return {
        "attempt": attempt.pk,
        "teacher": attempt.user.get_username(),
        "assessment": attempt.assessment_id,
        "assessment_title": attempt.assessment.title,
        "assessment_version": attempt.assessment.version,
        "submitted_at": _iso(attempt.submitted_at),
        "auto_submitted": attempt.auto_submitted,
        "answers": [
            {
                "question": question_id,
                "position": position,
                "choices": sorted(choice_ids),
                "value": value,
                "text": text,
                "flagged": flagged,
                "saved_at": _iso(saved_at),
            }
            for question_id, position, choice_ids, value, text, flagged, saved_at in answers
        ],
    }


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def receipt_sign(body: dict) -> str:
    return salted_hmac(
        KEY_SALT, _canonical(body), secret=settings.ASSESSMENTS_RECEIPT_KEY, algorithm="sha256"
    ).hexdigest()


def _attempt(**lookup) -> Attempt | None:
    return Attempt.objects.select_related("assessment", "user").filter(**lookup).first()


def attempt_receipt(*, attempt_id: int, user) -> dict:
    """The signed receipt of the user's own submitted attempt (2 queries)."""
    attempt = _attempt(pk=attempt_id, user=user)
    if attempt is None:
        raise AttemptNotFound(ERR_NOT_AVAILABLE)
    if not attempt.is_submitted:
        raise AttemptRefused(ERR_RECEIPT_NOT_SUBMITTED)
    body = receipt_body(attempt)
    return {"receipt": body, "signature": receipt_sign(body), "algorithm": ALGORITHM}


def receipt_dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """JSON keeps the last of two equal keys, a person reading the file the first: a file
    with both is not what we signed, however the signature reads."""
    document = {}
    for key, value in pairs:
        if key in document:
            raise ReceiptInvalid(f"the key {key!r} appears twice")
        document[key] = value
    return document


def receipt_loads(raw: str | bytes) -> dict:
    """The receipt's parts, or ReceiptInvalid saying what is wrong with the file."""
    if len(raw) > RECEIPT_MAX_BYTES:
        raise ReceiptInvalid(f"larger than {RECEIPT_MAX_BYTES // 2**20} MiB")
    try:
        document = json.loads(raw, object_pairs_hook=_unique_keys)
    except ReceiptInvalid:
        raise
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ReceiptInvalid(f"not JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("receipt"), dict):
        raise ReceiptInvalid('no "receipt" object')
    if extra := sorted(document.keys() - {"receipt", "signature", "algorithm"}):
        # Only the receipt is signed: words beside it would pass for part of it.
        raise ReceiptInvalid(f"unexpected {', '.join(map(repr, extra))}")
    if not isinstance(document.get("signature"), str):
        raise ReceiptInvalid('no "signature" string')
    if document.get("algorithm") != ALGORITHM:
        raise ReceiptInvalid(f'"algorithm" is {document.get("algorithm")!r}, not {ALGORITHM!r}')
    if not SIGNATURE.fullmatch(document["signature"]):
        raise ReceiptInvalid('the "signature" is not 64 hex digits')
    try:
        _canonical(document["receipt"])
    except UnicodeEncodeError:  # a lone surrogate (\ud800 in JSON): nothing we sign
        raise ReceiptInvalid("text that is not valid Unicode") from None
    return document


def receipt_check(document: dict) -> ReceiptCheck:
    """Is the receipt (from receipt_loads) signed by us, and if so, how does the database
    differ from it now?"""
    body = document["receipt"]
    if not hmac.compare_digest(receipt_sign(body), document["signature"]):
        return ReceiptCheck(genuine=False)
    attempt = _attempt(pk=body.get("attempt"))
    if attempt is None:
        return ReceiptCheck(genuine=True, differences=["the attempt is not in the database"])
    return ReceiptCheck(genuine=True, differences=_differences(body, receipt_body(attempt)))


def _differences(receipt: dict, database: dict) -> list[str]:
    def differ(where: str, name: str, theirs, ours) -> str:
        return f"{where}{name}: receipt {theirs!r}, database {ours!r}"

    found = [
        differ("", name, receipt.get(name), database[name])
        for name in ATTEMPT_FIELDS
        if receipt.get(name) != database[name]
    ]
    on_receipt = {answer.get("question"): answer for answer in receipt.get("answers", [])}
    in_database = {answer["question"]: answer for answer in database["answers"]}
    for question in sorted(on_receipt.keys() | in_database.keys()):
        theirs, ours = on_receipt.get(question), in_database.get(question)
        if ours is None:
            found.append(f"question {question}: on the receipt, not in the database")
        elif theirs is None:
            found.append(f"question {question}: in the database, not on the receipt")
        else:
            where = f"question {question} (position {ours['position']}) "
            found += [
                differ(where, name, theirs.get(name), ours[name])
                for name in ANSWER_FIELDS
                if theirs.get(name) != ours[name]
            ]
    return found
