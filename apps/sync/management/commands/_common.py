"""Shared by the sync commands (Django skips modules starting with an underscore)."""

from contextlib import contextmanager

from django.core.management.base import CommandError
from tqdm import tqdm

from apps.sync.connector import ConnectorConfig, connector_config

ERR_CONNECTOR_NOT_CONFIGURED = "Connector {name!r} is not configured (SYNC_RECORDS_BASE_URL & co)."


def connector_or_error(name: str, *, configured: bool = False) -> ConnectorConfig:
    try:
        config = connector_config(name)
    except LookupError as error:
        raise CommandError(str(error)) from error
    if configured and not config.configured:
        raise CommandError(ERR_CONNECTOR_NOT_CONFIGURED.format(name=name))
    return config


@contextmanager
def page_progress():
    """A tqdm bar over remote pages; yields the services' `on_page` callback."""
    with tqdm(desc="remote pages", unit="page", disable=None) as bar:

        def on_page(remote_object, page, total):
            bar.total = total
            bar.set_postfix_str(remote_object)
            bar.update(1)

        yield on_page
