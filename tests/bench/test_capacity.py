"""The capacity model's arithmetic (bench/capacity.py) and the scenario that feeds it this
run's figures."""

import pytest

from bench.capacity import Slot, TierNeed, capacity_markdown, tier_cpu_seconds, tier_needs
from bench.context import SMOKE, Bench, Throughput
from bench.scenarios.capacity import Capacity


def test_cpu_per_request_is_summed_over_the_roles_of_each_tier():
    cores = {
        "web master": 0.1,
        "web worker": 1.4,
        "postgres": 0.3,
        "valkey queue": 0.05,
        "valkey cache": 0.04,
        "sentinel": 0.01,
        "rq worker": 0.2,  # in no tier: idle during the requests the model counts
    }
    seconds = tier_cpu_seconds(cores, 500.0)
    assert seconds == pytest.approx({"web": 0.003, "PostgreSQL": 0.0006, "Redis": 0.0002})
    assert tier_cpu_seconds(cores, 0.0) == {}


def test_a_tier_is_sized_for_the_saves_plus_the_busier_storm():
    slot = Slot(teachers=1200, items=10, seconds=1200, start_window_s=60, submit_window_s=30)
    assert (slot.saves_per_second, slot.starts_per_second, slot.submits_per_second) == (
        10,
        20,
        40,
    )
    costs = {
        "save": {"web": 0.01, "PostgreSQL": 0.001},
        "start": {"web": 0.05},
        "submit": {"web": 0.02, "PostgreSQL": 0.01},
    }
    needs = tier_needs(costs, slot, utilisation=0.5)
    # web: mean 1,200 x (10 x 0.01 + 0.05 + 0.02) / 1,200 s; peak 10/s x 0.01 + the start
    # storm's 20/s x 0.05 (busier than the submits' 40/s x 0.02); 1.1 / 0.5 -> 3 cores.
    assert needs["web"] == TierNeed(mean_cores=pytest.approx(0.17), peak_cores=1.1, cores=3)
    # PostgreSQL: no start cost measured; the submit storm is its peak: 0.01 + 0.4.
    postgres = needs["PostgreSQL"]
    assert (postgres.mean_cores, postgres.peak_cores) == pytest.approx((0.02, 0.41))
    assert postgres.cores == 1  # 0.82 rounds up to one core
    assert set(needs) == {"web", "PostgreSQL"}  # no Redis figure, no Redis line


def test_a_peak_exactly_at_the_planned_utilisation_needs_no_extra_core():
    slot = Slot(teachers=40_000)  # 1,066.7 saves/s, 1,333.3 submits/s in 30 s
    needs = tier_needs({"save": {"web": 0.002}, "submit": {"web": 0.02}}, slot, 0.6)
    assert needs["web"].peak_cores == pytest.approx(28.8)
    assert needs["web"].cores == 48  # 28.8 / 0.6, not 49 from float noise
    with pytest.raises(ValueError):
        tier_needs({}, slot, utilisation=0)


def test_the_table_says_what_was_not_measured():
    lines = capacity_markdown({"save": {"web": 0.002, "PostgreSQL": 0.0005}})
    text = "\n".join(lines)
    assert "| CPU per save | 2.00 ms | 0.50 ms | not measured |" in text
    assert "**Not measured in this run: start, submit.**" in text
    # 40,000 teachers: 1,066.7 saves/s x 2 ms = 2.13 cores busy -> 4 cores at 60%.
    assert "| 40,000 | 1,067 | 667, 1,333 | **4** (peak 2.13, mean 2.13 busy) |" in text


def test_the_scenario_derives_the_table_from_this_runs_throughputs():
    bench = Bench(sizes=SMOKE, stack=None, monitor=None, workdir=None)
    bench.throughputs["answer_save"] = [Throughput(500.0, {"web worker": 1.0, "postgres": 0.25})]
    bench.throughputs["start"] = [Throughput(100.0, {"web worker": 0.5, "haproxy": 0.1})]
    result = Capacity().run(bench)
    assert result.status == "ran"
    save = next(m for m in result.metrics if m.name == "CPU per save by tier")
    assert save.value == pytest.approx({"web": 0.002, "PostgreSQL": 0.0005})
    cores = next(m for m in result.metrics if m.name.startswith("cores for 10,000"))
    # web: 266.7 saves/s x 2 ms + 166.7 starts/s x 5 ms = 1.37 busy -> 3 cores at 60%.
    assert cores.text == "web 3, PostgreSQL 1, balancer 1"
    assert "**Not measured in this run: submit.**" in "\n".join(result.details["markdown"])


def test_the_scenario_says_why_it_did_not_run():
    bench = Bench(sizes=SMOKE, stack=None, monitor=None, workdir=None)
    assert Capacity().run(bench).status.startswith("not run: needs the answer save")
