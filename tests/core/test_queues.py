"""The queue class: an enqueue inside a transaction happens once, at commit."""

import django_rq
import pytest


@pytest.mark.django_db
def test_an_enqueue_in_a_transaction_runs_once_when_its_hook_runs(
    django_capture_on_commit_callbacks,
):
    queue = django_rq.get_queue("low")
    queue.empty()
    with django_capture_on_commit_callbacks() as hooks:
        assert queue.enqueue("apps.core.jobs.recovery_sweep") is None  # not yet
    assert len(hooks) == 1 and queue.count == 0
    # A hook run while a transaction is still open (as captured hooks are in tests) must
    # enqueue, not register itself again: that looped forever.
    with django_capture_on_commit_callbacks() as registered_again:
        hooks[0]()
    assert registered_again == []
    assert queue.count == 1
    queue.empty()
