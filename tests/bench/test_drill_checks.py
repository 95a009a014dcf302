"""The drill's verdicts over recorded data: loss of acknowledged saves, when saves were back
after a kill, catch-up lateness, the exit code, and how it finds processes in /proc.
`make drill` itself is never run here."""

import json
import os
import signal
import subprocess

import pytest

from bench.drill import _alive, _children, _wait_gone
from bench.drill_checks import (
    NO_ANSWER,
    Save,
    catch_up,
    exit_code,
    fmt_statuses,
    in_window,
    lost_saves,
    missing,
    saves_back_after,
    slowest,
)
from bench.report import ScenarioResult, write_results

KEY = (7, 1)


def save(seq, value, status, *, sent=None, done=None, key=KEY, client=0):
    sent = float(seq) if sent is None else sent
    return Save(client, seq, key, value, sent, sent + 0.1 if done is None else done, status)


# --- lost saves ------------------------------------------------------------------------
def test_the_last_acknowledged_value_stored_is_not_lost():
    saves = [save(0, 1, 200), save(1, 2, 200)]
    assert lost_saves(saves, {KEY: 2}) == []


def test_an_older_acknowledged_value_means_the_last_one_was_lost():
    saves = [save(0, 1, 200), save(1, 2, 200)]
    assert lost_saves(saves, {KEY: 1}) == [KEY]


def test_a_missing_row_is_a_loss():
    assert lost_saves([save(0, 3, 200)], {}) == [KEY]


def test_a_later_unanswered_save_may_have_committed():
    """The server may commit a save whose answer never reached the client (a timeout, a
    killed worker after the commit): its value is a later one of the same client."""
    saves = [save(0, 1, 200), save(1, 4, NO_ANSWER), save(2, 5, 503)]
    assert lost_saves(saves, {KEY: 4}) == []
    assert lost_saves(saves, {KEY: 5}) == []
    assert lost_saves(saves, {KEY: 2}) == [KEY]


def test_an_earlier_unanswered_value_does_not_excuse_a_lost_acknowledgement():
    saves = [save(0, 4, NO_ANSWER), save(1, 1, 200)]
    assert lost_saves(saves, {KEY: 4}) == [KEY]


def test_never_acknowledged_answers_are_not_counted_and_order_is_by_sequence():
    other = (7, 2)
    saves = [save(1, 2, 200), save(0, 1, 200), save(0, 9, 500, key=other)]
    assert lost_saves(saves, {KEY: 2}) == []  # recorded out of order, seq decides
    assert lost_saves(saves, {KEY: 1}) == [KEY]


def test_missing_is_what_was_acknowledged_but_not_stored():
    assert missing({3: 1.0, 1: 2.0, 2: 3.0}, [2, 5]) == [1, 3]
    assert missing(["CP-2026-000001"], ["CP-2026-000001"]) == []


# --- saves back after a kill -----------------------------------------------------------
def test_with_no_failure_back_when_the_first_save_after_the_kill_answers():
    saves = [save(0, 1, 200, sent=99.0, done=99.5)]
    saves += [save(n, 1, 200, sent=100.0 + n, done=100.2 + n) for n in range(10)]
    assert saves_back_after(saves, kill_at=100.0, until=110.0, stable_s=5) == pytest.approx(0.2)


def test_a_save_that_waited_for_the_part_counts_until_its_answer():
    waited = [save(0, 1, 200, sent=100.1, done=103.5)]
    later = [save(n, 1, 200, sent=103.5 + n, done=103.6 + n) for n in range(1, 8)]
    assert saves_back_after(waited + later, kill_at=100.0, until=112.0, stable_s=5) == (
        pytest.approx(3.5)
    )
    assert slowest(waited + later, since=100.0, until=112.0) == pytest.approx(3.4)
    assert slowest(waited, since=200.0, until=210.0) is None


def test_back_after_the_first_success_following_the_last_failure():
    saves = [save(0, 1, 200, sent=99.0)]  # before the kill: not in the window
    saves += [save(n, 1, 503, sent=100.0 + n) for n in range(1, 4)]  # failures up to 103
    saves += [save(n, 1, 200, sent=100.0 + n, done=100.5 + n) for n in range(4, 12)]
    assert saves_back_after(saves, kill_at=100.0, until=112.0, stable_s=5) == pytest.approx(4.5)


def test_a_failure_after_a_success_restarts_the_clock():
    saves = [save(1, 1, 200, sent=101.0), save(2, 1, NO_ANSWER, sent=102.0)]
    saves += [save(n, 1, 200, sent=100.0 + n, done=100.0 + n) for n in range(3, 10)]
    assert saves_back_after(saves, kill_at=100.0, until=110.0, stable_s=5) == pytest.approx(3.0)


def test_a_save_in_flight_at_the_kill_counts_with_it():
    in_flight = [save(0, 1, 503, sent=99.9, done=100.3), save(1, 1, 200, sent=99.95, done=100.2)]
    later = [save(n, 1, 200, sent=100.0 + n, done=100.1 + n) for n in range(2, 10)]
    saves = in_flight + later
    assert saves_back_after(saves, kill_at=100.0, until=110.0, stable_s=5) == pytest.approx(2.1)
    assert in_window(saves, since=100.0, until=110.0)[:2] == in_flight
    assert in_window(saves, since=100.5, until=110.0) == later


def test_not_back_while_still_failing_or_not_yet_stable():
    failing = [save(n, 1, 429, sent=100.0 + n) for n in range(10)]
    assert saves_back_after(failing, kill_at=100.0, until=110.0, stable_s=5) is None
    short = [save(0, 1, 503, sent=100.0)] + [
        save(n, 1, 200, sent=100.0 + n, done=100.0 + n) for n in range(1, 4)
    ]
    assert saves_back_after(short, kill_at=100.0, until=104.0, stable_s=5) is None
    assert saves_back_after([], kill_at=100.0, until=110.0, stable_s=5) is None


# --- catch-up --------------------------------------------------------------------------
def test_catch_up_reports_the_slowest_and_what_is_left():
    due = {1: 100.0, 2: 110.0, 3: 150.0, 4: 500.0}  # 4 is not due yet
    seen = {1: 130.0, 2: 111.0}
    slowest, left = catch_up(due, seen, now=200.0)
    assert slowest == 30.0
    assert left == [3]
    assert catch_up({}, {}, now=1.0) == (None, [])


# --- verdict and output ----------------------------------------------------------------
def test_exit_code_fails_on_a_missed_goal_or_a_phase_not_run():
    fine = ScenarioResult("drill_web_worker", "Drill: web worker")
    fine.add("saves succeed again after", 0.0, "0.0 s", "<= 30 s", True)
    fine.add("statuses", {200: 5}, fmt_statuses({200: 5}))
    assert exit_code([fine]) == 0
    lost = ScenarioResult("drill_checks", "Drill: checks")
    lost.check("acknowledged saves lost", 1)
    assert exit_code([fine, lost]) == 1
    down = ScenarioResult("drill_postgres", "Drill: postgres", status="not run: the stack is down")
    assert exit_code([fine, down]) == 1


def test_statuses_name_the_missing_answers():
    assert fmt_statuses({200: 1200, NO_ANSWER: 3, 503: 12}) == "no answer: 3, 200: 1,200, 503: 12"
    assert fmt_statuses({}) == "none sent"


def test_drill_results_are_written_beside_the_bench_results(tmp_path):
    meta = {
        "mode": "drill",
        "date": "2026-12-01 00:00 UTC",
        "cores": 2,
        "cpu": "cpu",
        "memory": "1 GiB",
        "commit": "abc",
        "stack": "serve",
        "generators": "threads",
        "seconds": 300.0,
    }
    result = ScenarioResult("drill_checks", "Drill: checks")
    result.check("acknowledged saves lost", 0)
    markdown = write_results(tmp_path, "20261201T000000Z", meta, [result], prefix="drill-")
    assert "drill run" in markdown and "acknowledged saves lost" in markdown
    assert (tmp_path / "drill-latest.md").read_text() == markdown
    data = json.loads((tmp_path / "drill-latest.json").read_text())
    assert data["scenarios"][0]["name"] == "drill_checks"
    assert (tmp_path / "drill-20261201T000000Z.json").exists()
    assert not (tmp_path / "latest.json").exists()  # the bench's own results stay untouched


# --- finding the parts' processes (/proc, no psutil) -------------------------------------
def test_children_are_found_by_command_line_and_a_killed_unreaped_one_is_gone():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in _children(os.getpid(), "sleep 30")
        assert child.pid not in _children(os.getpid(), "gunicorn")
        os.kill(child.pid, signal.SIGKILL)
        _wait_gone(child.pid, 5)
        # A zombie (killed, not yet reaped by its parent) counts as gone, as the drill needs
        # for "a new process is back" while serve has not reaped the killed one yet.
        assert not _alive(child.pid)
        assert child.pid not in _children(os.getpid())
    finally:
        child.kill()
        child.wait()
