"""The capacity model (bench/capacity.py) on this run's figures: CPU per save, per start and
per submit of each tier, and the cores each tier needs for 10,000 / 40,000 / 100,000
teachers per slot. Runs after the scenarios that measure them (with --repeat: their median
runs)."""

from dataclasses import asdict

from bench.capacity import (
    KINDS,
    PLAN_UTILISATION,
    TEACHER_COUNTS,
    Slot,
    capacity_markdown,
    tier_cpu_seconds,
    tier_needs,
)
from bench.context import Bench
from bench.report import ScenarioResult
from bench.scenarios.base import Scenario

# request kind -> the throughput (Bench.record) that measured its CPU, and by what load
MEASURED_BY = {
    "save": ("answer_save", "the answer save, closed loop"),
    "start": ("start", "the start storm, open loop"),
    "submit": ("submit", "the submission storm, open loop"),
}


class Capacity(Scenario):
    name = "capacity"
    title = "Capacity model"
    always = True

    def run(self, bench: Bench) -> ScenarioResult:
        result = self.result()
        costs, sources = {}, []
        for kind in KINDS:
            name, load = MEASURED_BY[kind]
            run = bench.throughput(name)
            if run is not None:
                costs[kind] = tier_cpu_seconds(run.cpu_cores, run.rate)
                sources.append(f"{kind}s from {load} at {run.rate:,.0f}/s")
        if not costs:
            result.status = (
                "not run: needs the answer save, start storm or submission storm in the same run"
            )
            return result
        for kind, tiers in costs.items():
            result.add(
                f"CPU per {kind} by tier",
                tiers,
                ", ".join(f"{tier} {seconds * 1000:.2f} ms" for tier, seconds in tiers.items()),
            )
        for teachers in TEACHER_COUNTS:
            needs = tier_needs(costs, Slot(teachers=teachers))
            result.add(
                f"cores for {teachers:,} teachers per slot (at {PLAN_UTILISATION:.0%} CPU)",
                {tier: asdict(need) for tier, need in needs.items()},
                ", ".join(f"{tier} {need.cores}" for tier, need in needs.items()),
            )
        result.details["markdown"] = capacity_markdown(costs, source="; ".join(sources))
        return result
