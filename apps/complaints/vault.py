"""The identity vault: a complainant's contact details (name, email, phone) are stored only as
one Fernet token (AES-128-CBC + HMAC-SHA256, from `cryptography`) under keys that live in the
settings, never in the database; a dump or a backup alone names nobody. Officers find a
complainant by email through a blind index: a keyed HMAC-SHA256 of the normalised address,
with a key of its own, matched exactly (never a decrypt per row).

Keys are lists: the first encrypts (or indexes), all of them decrypt (or are searched), so a
new key can be put first while rows still sealed with the old one keep reading until
`manage.py complaints_vault_rotate` has re-sealed them (README "Identity vault").
"""

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# HKDF "info" of the development keys derived from SECRET_KEY when the settings name none
# (check --deploy refuses that in production: apps/complaints/checks.py).
DEV_SEAL_INFO = b"crowdproof complaints vault: seal"
DEV_INDEX_INFO = b"crowdproof complaints vault: email index"


# What the public form accepts: no column limits them any more, the token holds all three.
NAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254
PHONE_MAX_LENGTH = 30


class VaultError(Exception):
    """A sealed value that no configured key opens (a key removed too early, or tampering)."""


@dataclass(frozen=True)
class Contact:
    name: str = ""
    email: str = ""
    phone: str = ""

    def __bool__(self) -> bool:
        return any((self.name, self.email, self.phone))


def dev_key(secret: str, info: bytes) -> str:
    """A Fernet key derived from `secret` (development and tests only)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived).decode()


def seal_keys() -> tuple[str, ...]:
    return tuple(settings.COMPLAINTS_VAULT_KEYS) or (dev_key(settings.SECRET_KEY, DEV_SEAL_INFO),)


def index_keys() -> tuple[str, ...]:
    return tuple(settings.COMPLAINTS_VAULT_INDEX_KEYS) or (
        dev_key(settings.SECRET_KEY, DEV_INDEX_INFO),
    )


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    """The current key alone, and all keys (first encrypts); raises ValueError for a key that
    is not a Fernet key."""
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def keys_check() -> None:
    """Raises ValueError if a configured key is unusable (apps/complaints/checks.py)."""
    _fernets(seal_keys())
    if not all(index_keys()):
        raise ValueError("an empty index key")


def contact_seal(contact: Contact) -> str:
    """The token stored for a contact; "" for no contact at all (an anonymous complaint)."""
    if not contact:
        return ""
    plain = json.dumps(asdict(contact), separators=(",", ":"), ensure_ascii=False)
    return _fernets(seal_keys())[1].encrypt(plain.encode()).decode()


def contact_open(sealed: str) -> Contact:
    """The contact behind a token, with any configured key. Called one complaint at a time,
    only by the audited reveal (services/identity.py), the rotation and the migration."""
    if not sealed:
        return Contact()
    try:
        plain = _fernets(seal_keys())[1].decrypt(sealed.encode())
    except InvalidToken:
        raise VaultError("no configured key opens this contact") from None
    return Contact(**json.loads(plain))


def email_normalise(email: str) -> str:
    return email.strip().casefold()


def _email_index(email: str, key: str) -> str:
    return hmac.new(key.encode(), email_normalise(email).encode(), hashlib.sha256).hexdigest()


def email_index(email: str) -> str:
    """The blind index stored for an address, under the current index key; "" for none."""
    return _email_index(email, index_keys()[0]) if email.strip() else ""


def email_index_candidates(email: str) -> list[str]:
    """What an exact search for `email` matches: its index under every configured key."""
    return [_email_index(email, key) for key in index_keys()] if email.strip() else []


def contact_columns(contact: Contact) -> dict[str, str]:
    """The Complaint columns that hold a contact."""
    return {
        "contact_sealed": contact_seal(contact),
        "contact_email_index": email_index(contact.email),
    }


def contact_rotate(*, sealed: str, index: str) -> dict[str, str] | None:
    """A row's contact columns re-sealed with the current key and re-indexed with the current
    index key, or None if they are current already (so a rerun changes nothing). MultiFernet
    keeps the token's original timestamp. Raises VaultError if no key opens it."""
    if not sealed:
        return None
    current, every = _fernets(seal_keys())
    try:
        plain = current.decrypt(sealed.encode())
        resealed = sealed
    except InvalidToken:
        try:
            plain = every.decrypt(sealed.encode())
        except InvalidToken:
            raise VaultError("no configured key opens this contact") from None
        resealed = every.rotate(sealed.encode()).decode()
    reindexed = email_index(json.loads(plain).get("email", ""))
    if resealed == sealed and reindexed == index:
        return None
    return {"contact_sealed": resealed, "contact_email_index": reindexed}
