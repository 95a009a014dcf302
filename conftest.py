"""Fixtures shared by every app's tests. The database and Valkey are real (see
doubles/pytest_embedded.py); nothing here fakes them."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation


def pytest_configure(config):
    # Tests render templates without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The Django test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # PBKDF2 is slow by design; the tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves a request's language (Accept-Language: ms) active in the
    thread: without this, a later test would see Malay labels."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters and cached pages must not leak from one test into the next, nor
    what a process keeps of them (a test starts like a fresh web process)."""
    from apps.assessments import selectors

    cache.clear()
    selectors._LOCAL_META.clear()
    yield
    cache.clear()
    selectors._LOCAL_META.clear()


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Counts the requests sent to Redis (a pipeline or a script is one):
    `with redis_round_trips() as sent: ...; sent.n`. A spy: every command still runs."""
    from contextlib import contextmanager

    from redis.connection import AbstractConnection

    class Sent:
        n = 0

    @contextmanager
    def counting():
        sent = Sent()
        send = AbstractConnection.send_packed_command

        def counted_send(connection, command, check_health=True):
            sent.n += 1
            return send(connection, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted_send)
        try:
            yield sent
        finally:
            monkeypatch.setattr(AbstractConnection, "send_packed_command", send)

    return counting


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, past the two-factor login the admin requires."""
    from tests.accounts.factories import verified_login

    verified_login(client, admin_user)
    return client
