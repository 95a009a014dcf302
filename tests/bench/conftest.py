import pytest


@pytest.fixture
def report_meta() -> dict:
    """The run description render_markdown puts above the table."""
    return {
        "mode": "quick",
        "date": "2026-11-24 18:00 UTC",
        "cores": 2,
        "cpu": "cpu",
        "memory": "24 GiB",
        "commit": "abc",
        "stack": "stack",
        "generators": "wrk",
        "seconds": 100.0,
    }
