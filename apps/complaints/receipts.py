"""Receipts: the secret a complainant gets once to follow a complaint.

A receipt is 100 random bits, so like an API token it is stored as a SHA-256 digest (a slow
password hash adds nothing against guessing 2^100 values and would cost ~0.5 s per filing);
checks compare digests in constant time, and an unknown reference is checked against a dummy
digest so both answers take the same work.
"""

import hashlib
import hmac
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read back
GROUPS, GROUP_LENGTH = 4, 5
_DUMMY_HASH = "sha256$" + "0" * 64


def receipt_new() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(chars[i : i + GROUP_LENGTH] for i in range(0, len(chars), GROUP_LENGTH))


def receipt_normalise(receipt: str) -> str:
    return "".join(ch for ch in receipt.upper() if ch.isalnum())


def receipt_hash(receipt: str) -> str:
    digest = hashlib.sha256(receipt_normalise(receipt).encode()).hexdigest()
    return f"sha256${digest}"


def receipt_matches(*, stored_hash: str | None, receipt: str) -> bool:
    """Constant-time comparison; `stored_hash=None` (unknown reference) does the same work."""
    candidate = receipt_hash(receipt)
    same = hmac.compare_digest(candidate.encode(), (stored_hash or _DUMMY_HASH).encode())
    return same and stored_hash is not None
