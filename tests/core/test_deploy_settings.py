import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet
from django.conf import settings

# Variables that only tests set; a deployment never has them.
TEST_ONLY = ("DJANGO_ALLOW_ASYNC_UNSAFE", "SECRET_KEY")


def check_deploy(**values) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    env.update(DJANGO_DEBUG="false", ALLOWED_HOSTS="crowdproof.example.org", **values)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def production_keys() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "COMPLAINTS_VAULT_KEYS": Fernet.generate_key().decode(),
        "COMPLAINTS_VAULT_INDEX_KEYS": secrets.token_urlsafe(32),
    }


def test_check_deploy_is_clean_with_production_values():
    result = check_deploy(**production_keys())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_requires_the_identity_vault_keys():
    unset = {"COMPLAINTS_VAULT_KEYS": "", "COMPLAINTS_VAULT_INDEX_KEYS": ""}
    result = check_deploy(**{**production_keys(), **unset})
    assert result.returncode != 0
    assert "complaints.E002" in result.stdout + result.stderr
    assert "COMPLAINTS_VAULT_INDEX_KEYS is not set" in result.stdout + result.stderr


def test_an_unusable_vault_key_fails_the_checks():
    result = check_deploy(**{**production_keys(), "COMPLAINTS_VAULT_KEYS": "not-a-key"})
    assert result.returncode != 0
    assert "complaints.E001" in result.stdout + result.stderr


def test_check_deploy_flags_the_development_secret_key():
    result = check_deploy()
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_a_prepare_threshold_that_is_not_a_number_is_named():
    for value in ("abc", "-1", "\u0665"):  # Arabic-Indic five: isdigit() but not ASCII
        result = check_deploy(**production_keys(), DB_PREPARE_THRESHOLD=value)
        assert result.returncode != 0
        assert "DB_PREPARE_THRESHOLD must be a whole number" in result.stderr
    assert check_deploy(**production_keys(), DB_PREPARE_THRESHOLD="none").returncode == 0
