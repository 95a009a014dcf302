"""Save grants: what lets an answer save, and the submit, skip loading the session and the
user.

The take page carries a grant for its attempt, signed with the SECRET_KEY: the attempt, the
teacher, a digest of the session key and a digest of the teacher's password hash. A save that
brings a grant, together with the session cookie it was issued to, is checked without the
session or the user (two Redis round trips and their decoding, most of what a save cost
beyond its one SQL statement). What the session path checks still holds, at the same moment
and in the same statement as the write (answers.py, `_SAVE_GRANTED_SQL`):
- the session still exists and has not expired (a log-out deletes it: Django's `flush`);
- the teacher is still active and has the same password (a password change ends every other
  session, as Django's session hash does);
- the attempt is the teacher's, open, before its deadline, on the content version checked.
The cookie binding means a grant read off a page is useless without that browser's
HttpOnly session cookie; the CSRF check is unchanged. A grant that fails any check is
not a refusal: the save goes on through the session path, which refuses with the reason
(log in again, the time is up...) or saves. The submit takes the grant the same way, from
the header or from the review page's form, and its lock checks the same (submit.py).
"""

import hashlib
from dataclasses import dataclass

from django.contrib.sessions.models import Session
from django.core import signing

from apps.accounts.models import User

# Sent by the take page's script with each save (static/js/assessments.js).
SAVE_GRANT_HEADER = "X-Save-Grant"
# The same grant as a field of the forms that submit (review and time-up forms).
SAVE_GRANT_FIELD = "save_grant"
_SALT = "assessments.save-grant"
# 16 bytes of SHA-256: a digest is compared, never reversed; the session key it stands for
# is 32 random characters, the password hash it stands for is salted.
DIGEST_HEX = 32


# What the session path would have checked, as conditions of the statement that writes, on
# the attempt `a`: the grant's session row exists and has not expired; its teacher is active
# and has the password the grant's digest stands for (secret_digest(), computed by PostgreSQL
# from the row). Parameters: session_key, password_digest, now.
GRANT_STILL_GOOD_SQL = f"""
      AND EXISTS (SELECT 1 FROM {Session._meta.db_table} ds
                  WHERE ds.session_key = %(session_key)s AND ds.expire_date > %(now)s)
      AND EXISTS (SELECT 1 FROM {User._meta.db_table} gu
                  WHERE gu.id = a.user_id AND gu.is_active
                    AND left(encode(sha256(convert_to(gu.password, 'UTF8')), 'hex'), {DIGEST_HEX})
                        = %(password_digest)s)"""


def secret_digest(value: str) -> str:
    """The digest a grant carries for a session key or a password hash; the save statement
    computes the same from the user row (sha256 of the UTF-8 text, hex, first 32)."""
    return hashlib.sha256(value.encode()).hexdigest()[:DIGEST_HEX]


@dataclass(frozen=True)
class SaveGrant:
    attempt_id: int
    user_id: int
    session_key: str  # from the request's cookie, never from the grant itself
    password_digest: str


def save_grant_issue(*, attempt_id: int, user, session_key: str) -> str:
    """The grant for the take page of `attempt_id`, for the signed-in `user` whose session
    is `session_key`."""
    value = ".".join(
        (
            str(attempt_id),
            str(user.pk),
            secret_digest(session_key),
            secret_digest(user.password),
        )
    )
    return signing.Signer(salt=_SALT).sign(value)


def save_grant_read(*, grant: str, session_key: str, attempt_id: int) -> SaveGrant | None:
    """The grant sent with a save to `attempt_id`, if it is genuine, for that attempt and
    issued to the session whose cookie came with it; else None (the session path decides)."""
    # A grant and a session key are short ASCII: anything else is not one (never an error).
    if not (grant and session_key and grant.isascii() and session_key.isascii()):
        return None
    if len(grant) > 256:
        return None
    try:
        value = signing.Signer(salt=_SALT).unsign(grant)
    except signing.BadSignature:
        return None
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != str(attempt_id) or parts[2] != secret_digest(session_key):
        return None
    return SaveGrant(
        attempt_id=attempt_id,
        user_id=int(parts[1]),
        session_key=session_key,
        password_digest=parts[3],
    )
