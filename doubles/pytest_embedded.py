"""pytest plugin: real PostgreSQL and Valkey for the test run.

Loaded with `-p doubles.pytest_embedded` (pyproject addopts) so that it runs before
pytest-django reads the settings. With DATABASE_URL / REDIS_URL set in the environment the
tests use those servers; otherwise a throwaway embedded PostgreSQL and Valkey are started in
a temporary folder and deleted when the run ends.
"""

import os
import tempfile
from pathlib import Path

import pytest

from apps.core.embedded import EmbeddedServices

_services: EmbeddedServices | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    need_pg = not os.environ.get("DATABASE_URL")
    need_valkey = not os.environ.get("REDIS_URL")
    if need_pg or need_valkey:
        _services = EmbeddedServices(
            data_dir=Path(tempfile.mkdtemp(prefix="crowdproof-test-")), throwaway=True
        )
        os.environ.update(_services.start(postgres=need_pg, valkey=need_valkey))
    # The state file of a running `make run` must never leak into a test run.
    os.environ.setdefault("CROWDPROOF_DATA_DIR", tempfile.gettempdir() + "/crowdproof-none")
    yield


def pytest_unconfigure(config):
    if _services is not None:
        _services.stop()
