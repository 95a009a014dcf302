"""Fuzz fixtures: the assessments' quiz and teacher, the complaints' private media and
triage settings (reference data comes from the data migration), with rate limits off (a 429
would hide what the endpoint does with the input)."""

import pytest

from tests.assessments.conftest import quiz, teacher  # noqa: F401 (fixtures)
from tests.complaints.conftest import private_media, triage_settings  # noqa: F401


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATELIMIT_ENABLE = False
