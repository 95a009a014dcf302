"""System checks of the identity vault's keys (apps/complaints/vault.py)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from apps.complaints import vault


@register(Tags.security)
def vault_keys_usable(app_configs, **kwargs):
    """Every run: a key that is not a Fernet key would fail the first filing with a contact."""
    try:
        vault.keys_check()
    except ValueError as error:
        return [
            Error(
                f"COMPLAINTS_VAULT_KEYS or COMPLAINTS_VAULT_INDEX_KEYS holds an unusable key "
                f"({error}).",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="complaints.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def vault_keys_set(app_configs, **kwargs):
    """In production the keys must be set: the development ones derive from SECRET_KEY, so
    rotating SECRET_KEY would lose every contact, and they are not kept apart from it."""
    return [
        Error(
            f"{name} is not set: complainants' contact details would be encrypted with a key "
            "derived from SECRET_KEY.",
            hint="Set it to a comma-separated list of keys, the current one first (README, "
            "Identity vault).",
            id="complaints.E002",
        )
        for name in ("COMPLAINTS_VAULT_KEYS", "COMPLAINTS_VAULT_INDEX_KEYS")
        if not getattr(settings, name)
    ]
