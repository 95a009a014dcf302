"""The restart policy of serve and of the worker's Redis wait (apps/core/backoff.py)."""

from apps.core.backoff import Backoff


def test_doubles_from_first_to_cap():
    policy = Backoff(first=1, cap=30, reset_after=60)
    policy.started(0)
    assert [policy.failed(now) for now in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_child_that_stayed_up_is_restarted_at_once_again():
    policy = Backoff(first=1, cap=30, reset_after=60)
    policy.started(0)
    assert policy.failed(1) == 1
    policy.started(2)
    assert policy.failed(3) == 2  # died 1 s after its restart: still failing
    policy.started(5)
    assert policy.failed(5 + 60) == 1  # up for a minute: a first failure again


def test_failures_without_a_start_keep_growing():
    """A service whose restart itself fails is never reported as started."""
    policy = Backoff(first=0.5, cap=5, reset_after=60)
    assert [policy.failed(now * 100) for now in range(6)] == [0.5, 1, 2, 4, 5, 5]
