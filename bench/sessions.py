"""Logged-in sessions for thousands of teachers without a login each.

Logging in pays PBKDF2 on purpose (hundreds of milliseconds of CPU); that is not what the
bench measures, so it writes the sessions Django's login would have written, straight into
the session table, and hands the cookies and CSRF tokens to the load generator (with the
save grant of the take page, for the scenarios that save answers). The server
reads them exactly as it reads real ones. Like a login with the cached_db engine, each
session is written to the cache as well as to the table, so the first save of a teacher
finds it there, as after a real login; so is the user, as the first page after it leaves it.
A staff user with an authenticator gets a session that has passed two-factor login too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.backends import user_cache_key
from apps.assessments.services import save_grant_issue

SESSION_PREFIX = "bench"  # lets a later run delete exactly the sessions the bench made
SESSION_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # Django's own alphabet


def csrf_secret() -> str:
    """A CSRF cookie value; Django accepts the same secret unmasked in X-CSRFToken."""
    return get_random_string(32)


def sessions_create(*, users: Iterable) -> list[tuple[str, str]]:
    """One logged-in session per user: [(session key, CSRF secret)], in the users' order."""
    users = list(users)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    rows, pairs, cached = [], [], {}
    staff = [user.pk for user in users if user.is_staff or user.is_superuser]
    verified_by = {
        device.user_id: device.persistent_id
        for device in TOTPDevice.objects.filter(user__in=staff, confirmed=True)
    }
    for user in users:
        key = SESSION_PREFIX + get_random_string(32 - len(SESSION_PREFIX), SESSION_KEY_CHARS)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],  # as login() records
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        if user.pk in verified_by:  # as django_otp.login() records
            data[DEVICE_ID_SESSION_KEY] = verified_by[user.pk]
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        pairs.append((key, csrf_secret()))
        cached[store.cache_key_prefix + key] = data
    Session.objects.bulk_create(rows, batch_size=5000)
    _cache_in_chunks(caches[settings.SESSION_CACHE_ALIAS], cached, settings.SESSION_COOKIE_AGE)
    # A teacher who saves or submits has loaded a page since signing in, which cached the user.
    _cache_in_chunks(
        caches["default"],
        {user_cache_key(user.pk): user for user in users},
        settings.ACCOUNTS_USER_CACHE_TTL,
    )
    return pairs


def sessions_with_grants(sessions: list[tuple[str, str]], attempts) -> list[tuple[str, str, str]]:
    """Each session with the save grant its teacher's take page would carry for the attempt
    (services/save_grants.py): [(session key, CSRF secret, grant)], `attempts` in the
    sessions' order."""
    return [
        (key, csrf, save_grant_issue(attempt_id=attempt.pk, user=attempt.user, session_key=key))
        for (key, csrf), attempt in zip(sessions, attempts, strict=True)
    ]


def _cache_in_chunks(cache, items: dict, timeout: int) -> None:
    pairs = list(items.items())
    for start in range(0, len(pairs), 1000):
        cache.set_many(dict(pairs[start : start + 1000]), timeout)


def sessions_delete_previous() -> int:
    """Drop the sessions earlier bench runs made (never a real user's)."""
    deleted, _ = Session.objects.filter(session_key__startswith=SESSION_PREFIX).delete()
    return deleted
