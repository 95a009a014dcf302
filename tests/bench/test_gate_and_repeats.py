"""The bench's gate, repeats and "where the time goes" chain: pure logic, no load. A data
check that fails must make `make bench` exit 1; a timing goal missed must not."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bench.context import SMOKE, Bench, Throughput
from bench.report import (
    Metric,
    ScenarioResult,
    exit_code,
    gate_failures,
    merge_metric,
    merge_repeats,
    render_markdown,
)
from bench.run import _run_scenario, selected
from bench.scenarios import SCENARIOS
from bench.scenarios.base import Scenario
from bench.scenarios.chain import Chain
from bench.scenarios.start_storm import expected_deadline, redirected_to
from bench.stats import cpu_ms_per_request, highest_rate_within, median_index, ratio_chain


def test_ratio_chain_divides_each_step_by_the_one_before():
    assert ratio_chain([4000.0, 3000.0, 1500.0, 750.0, 600.0]) == [None, 0.75, 0.5, 0.5, 0.8]
    assert ratio_chain([4000.0, None, 1000.0]) == [None, None, None]
    assert ratio_chain([]) == [None]


def test_cpu_per_request():
    assert cpu_ms_per_request(1.5, 500.0) == pytest.approx(3.0)
    assert cpu_ms_per_request(None, 500.0) is None
    assert cpu_ms_per_request(1.0, 0.0) is None


def test_median_index_picks_a_real_run():
    assert median_index([300.0, 100.0, 200.0]) == 2
    assert median_index([10.0, 40.0, 20.0, 30.0]) == 2  # the lower middle: 20
    with pytest.raises(ValueError):
        median_index([])


def test_highest_rate_within_the_latency_limit():
    phases = [(100.0, 12.0), (200.0, 40.0), (300.0, 180.0), (360.0, 900.0)]
    assert highest_rate_within(phases, 100) == 200.0
    assert highest_rate_within([(100.0, 120.0)], 100) is None
    assert highest_rate_within([(100.0, float("inf"))], 100) is None


def _result(name="answer_save", **checks) -> ScenarioResult:
    result = ScenarioResult(name, name.replace("_", " ").title())
    result.add("saves/s", 900.0, "900", ">= 1,100", False)  # a timing goal missed
    for check, found in checks.items():
        result.check(check, found)
    return result


def test_timing_goals_missed_pass_the_gate(report_meta):
    results = [_result(missing=0)]
    assert gate_failures(results) == []
    assert exit_code(results) == 0
    assert "- passed: every data check held" in render_markdown(report_meta, results)


def test_a_failed_data_check_or_scenario_fails_the_gate(report_meta):
    lost = _result(missing=2)
    assert exit_code([lost]) == 1
    assert gate_failures([lost]) == ["Answer Save: missing is 2 (must be 0)"]
    assert "- **FAILED** Answer Save: missing is 2 (must be 0)" in render_markdown(
        report_meta, [lost]
    )
    broken = ScenarioResult("storm", "Storm", status="failed: RuntimeError('boom')")
    assert gate_failures([broken]) == ["Storm: failed: RuntimeError('boom')"]
    assert exit_code([_result(missing=0), broken]) == 1
    outbox = ScenarioResult("storm", "Storm")
    outbox.check("outbox rows", 9, expected=10)
    assert exit_code([outbox]) == 1
    not_run = ScenarioResult("sync", "Sync", status="not run: sync delivery missing")
    assert exit_code([not_run]) == 0


def test_merge_metric_reports_the_median_run_and_the_spread():
    runs = [
        Metric("saves/s", 500.0, "500", ">= 1,100", False),
        Metric("saves/s", 400.0, "400", ">= 1,100", False),
        Metric("saves/s", 450.0, "450", ">= 1,100", False),
    ]
    merged = merge_metric(runs)
    assert merged.text == "450 (median of 3; 400 - 500)"
    assert merged.value == {"median": 450.0, "min": 400.0, "max": 500.0}
    latency = merge_metric(
        [
            Metric("p50 / p95 / p99", {"p95": 90.0}, "a", "p95 < 100 ms", True),
            Metric("p50 / p95 / p99", {"p95": 130.0}, "b", "p95 < 100 ms", False),
            Metric("p50 / p95 / p99", {"p95": 110.0}, "c", "p95 < 100 ms", False),
        ]
    )
    assert (latency.text, latency.met) == ("c (median of 3; a - b)", False)
    cpu = merge_metric(
        [Metric("CPU", {"web": 1.5}, "web 1.5"), Metric("CPU", {"web": 1.2}, "web 1.2")]
    )
    assert cpu.text == "web 1.5 | web 1.2"


def test_merge_repeats_fails_a_check_failed_in_any_run():
    merged = merge_repeats([_result(missing=0), _result(missing=3), _result(missing=0)])
    check = next(m for m in merged.metrics if m.name == "missing")
    assert (check.met, check.text, check.check) == (False, "0 / 3 / 0", True)
    assert exit_code([merged]) == 1
    assert merge_repeats([_result(missing=0)]).metrics[1].text == "0"
    broken = ScenarioResult("answer_save", "Answer Save", status="failed: boom")
    assert merge_repeats([_result(missing=0), broken]) is broken


def test_only_brings_the_scenarios_a_scenario_needs():
    assert selected(SCENARIOS, "answer_latency") == {"answer_latency", "answer_save"}
    assert selected(SCENARIOS, "ceilings,dashboards") == {"ceilings", "dashboards"}
    assert selected(SCENARIOS, "") == set()


def test_the_chain_names_each_step_with_its_ratio_and_cpu():
    bench = Bench(sizes=SMOKE, stack=None, monitor=None, workdir=None)
    figures = {
        "plain": (4000.0, {"plain WSGI web worker": 0.8}),
        "bare": (3000.0, {"bare Django web worker": 1.2}),
        "constant": (1500.0, {"web worker": 1.5, "postgres": 0.0}),
        "upsert": (750.0, {"web worker": 1.5, "postgres": 0.3}),
    }
    for name, (rate, cores) in figures.items():
        bench.throughputs[name] = [Throughput(rate, cores)]
    bench.throughputs["answer_save"] = [
        Throughput(700.0, {}),
        Throughput(600.0, {"web worker": 1.2}),
    ]
    result = Chain().run(bench)
    table = result.details["markdown"]
    assert "| plain WSGI (gunicorn, no Django) | 4,000 |  | 0.2 ms | 0.2 ms |" in table
    assert "| Django, no middleware (constant view) | 3,000 | 0.75 | 0.4 ms | 0.4 ms |" in table
    assert "| bare upsert view | 750 | 0.50 | 2.0 ms | 2.4 ms |" in table
    assert "| answer save | 600 | 0.80 | 2.0 ms | 2.0 ms |" in table  # the lower median run
    assert result.metrics[3].text == (
        "750 req/s; 0.50 of the step before; CPU per request 2.0 ms (web workers), "
        "2.4 ms (whole stack)"
    )
    assert bench.ceilings["answer_save"] == 600.0


def test_the_chain_says_what_was_not_measured():
    bench = Bench(sizes=SMOKE, stack=None, monitor=None, workdir=None)
    assert Chain().run(bench).status.startswith("not run")
    bench.throughputs["constant"] = [Throughput(1500.0, {"web worker": 1.5})]
    result = Chain().run(bench)
    assert [m.text for m in result.metrics][:2] == ["not measured", "not measured"]
    assert result.metrics[2].text.startswith("1,500 req/s; CPU per request 1.0 ms")


def test_start_storm_deadline_and_redirect():
    started = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    closes = started + timedelta(minutes=30 * 60)
    assert expected_deadline(started, Decimal(1), closes) == started + timedelta(days=1)
    assert expected_deadline(started, Decimal("1.5"), closes) == closes
    from bench.arrivals import Outcome

    assert (
        redirected_to(Outcome("start-1", 302, 5.0, location="/en/assessments/attempts/42/")) == 42
    )
    assert redirected_to(Outcome("start-1", 403, 5.0)) is None


class _Broken(Scenario):
    name = "broken"
    title = "Broken"

    def run(self, bench):
        raise RuntimeError("boom")


def test_a_scenario_that_raises_is_reported_failed_and_fails_the_run():
    result = _run_scenario(_Broken(), bench=None)
    assert result.status == "failed: RuntimeError('boom')"
    assert exit_code([result]) == 1
