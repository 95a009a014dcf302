"""The deployment a slot needs, from the CPU each request took in this run. Pure: no Django,
no I/O (tested in tests/bench).

Inputs: CPU-seconds per save, per start and per submit for each tier (from the cores each
role kept busy at the rate the scenario measured). The slot: every teacher saves `items`
answers spread over the slot, starts once and submits once; all of them start within
`start_window_s` and submit within `submit_window_s` (the start and submission storms of
DESIGN.md). A tier is sized for its peak: the saves at their slot average plus the busier
of the two storms, at `utilisation` of each core (the headroom for what the bench does not
model: spikes, retries, a node lost, the operating system).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

SLOT_SECONDS = 20 * 60
ITEMS = 32
START_WINDOW_S = 60.0  # a slot's teachers all press Start within a minute
SUBMIT_WINDOW_S = 30.0  # and all submit within 30 s
PLAN_UTILISATION = 0.6  # plan for each core 60% busy at the peak
TEACHER_COUNTS = (10_000, 40_000, 100_000)
KINDS = ("save", "start", "submit")  # the requests a teacher makes in a slot

# tier -> the monitor's roles (bench/monitor.py) it is made of, in the single stack
# (one "valkey" for queue and cache) and in the cluster (bench/cluster.py).
TIERS: dict[str, tuple[str, ...]] = {
    "web": ("web master", "web worker"),
    "PostgreSQL": ("postgres",),
    "Redis": ("valkey", "valkey queue", "valkey queue replica", "valkey cache", "sentinel"),
    "balancer": ("haproxy",),
    "PostgreSQL standby": ("postgres standby",),
}


def tier_cpu_seconds(cpu_cores: Mapping[str, float], rate: float) -> dict[str, float]:
    """CPU-seconds per request of each tier present, from the cores busy per role while
    `rate` requests per second were served."""
    return {
        tier: sum(cpu_cores.get(role, 0.0) for role in roles) / rate
        for tier, roles in TIERS.items()
        if rate > 0 and any(role in cpu_cores for role in roles)
    }


@dataclass(frozen=True)
class Slot:
    teachers: int
    items: int = ITEMS
    seconds: float = SLOT_SECONDS
    start_window_s: float = START_WINDOW_S
    submit_window_s: float = SUBMIT_WINDOW_S

    @property
    def saves_per_second(self) -> float:
        return self.teachers * self.items / self.seconds

    @property
    def starts_per_second(self) -> float:
        return self.teachers / self.start_window_s

    @property
    def submits_per_second(self) -> float:
        return self.teachers / self.submit_window_s


@dataclass(frozen=True)
class TierNeed:
    mean_cores: float  # busy on average over the slot
    peak_cores: float  # busy while the busier storm runs on top of the saves
    cores: int  # to provision: the peak at the planned utilisation, rounded up


def tier_needs(
    costs: Mapping[str, Mapping[str, float]],
    slot: Slot,
    utilisation: float = PLAN_UTILISATION,
) -> dict[str, TierNeed]:
    """tier -> what it needs for `slot`, from costs: kind ("save", "start", "submit") ->
    tier -> CPU-seconds per request. A kind not measured adds nothing (the caller says so)."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation {utilisation} is outside (0, 1]")
    tiers = [tier for tier in TIERS if any(tier in costs.get(kind, {}) for kind in KINDS)]
    needs = {}
    for tier in tiers:
        save, start, submit = (costs.get(kind, {}).get(tier, 0.0) for kind in KINDS)
        per_teacher = slot.items * save + start + submit
        mean = slot.teachers * per_teacher / slot.seconds
        storm = max(slot.starts_per_second * start, slot.submits_per_second * submit)
        peak = slot.saves_per_second * save + storm
        # A tier that serves the slot gets at least one core; 1e-9: float noise at a boundary.
        cores = max(1, math.ceil(peak / utilisation - 1e-9))
        needs[tier] = TierNeed(mean_cores=mean, peak_cores=peak, cores=cores)
    return needs


def capacity_markdown(
    costs: Mapping[str, Mapping[str, float]],
    *,
    teacher_counts=TEACHER_COUNTS,
    utilisation: float = PLAN_UTILISATION,
    source: str = "",
) -> list[str]:
    """The deployment table for each teacher count, with the per-request costs it is
    derived from and what it assumes."""
    missing = [kind for kind in KINDS if not costs.get(kind)]
    sample = Slot(teachers=0)
    lines = [
        "",
        "## Capacity model: cores per tier for one slot (bench/capacity.py)",
        "",
        f"Derived from this run's CPU per request{f' ({source})' if source else ''}. Slot: "
        f"{sample.items} saves per teacher spread over {sample.seconds / 60:g} minutes, every "
        f"teacher starting within {sample.start_window_s:g} s and submitting within "
        f"{sample.submit_window_s:g} s. Each tier is sized for its peak (the saves at their "
        "slot average plus the busier storm) at "
        f"{utilisation:.0%} CPU; Redis counts cores of single-threaded Valkey servers.",
        "",
        "| request | " + " | ".join(TIERS) + " |",
        "| --- |" + " --- |" * len(TIERS),
    ]
    for kind in KINDS:
        measured = costs.get(kind, {})
        cells = [
            f"{measured[tier] * 1000:.2f} ms" if tier in measured else "not measured"
            for tier in TIERS
        ]
        lines.append(f"| CPU per {kind} | " + " | ".join(cells) + " |")
    if missing:
        lines += [
            "",
            f"**Not measured in this run: {', '.join(missing)}.** The table leaves their CPU "
            "out and understates every tier; run their scenarios too.",
        ]
    lines += [
        "",
        "| teachers per slot | saves/s (mean) | starts/s, submits/s (storms) | "
        + " | ".join(TIERS)
        + " |",
        "| --- | --- | --- |" + " --- |" * len(TIERS),
    ]
    for teachers in teacher_counts:
        slot = Slot(teachers=teachers)
        needs = tier_needs(costs, slot, utilisation)
        cells = [
            f"**{needs[tier].cores}** (peak {needs[tier].peak_cores:.2f}, "
            f"mean {needs[tier].mean_cores:.2f} busy)"
            if tier in needs
            else "not in this topology"
            for tier in TIERS
        ]
        lines.append(
            f"| {teachers:,} | {slot.saves_per_second:,.0f} | {slot.starts_per_second:,.0f}, "
            f"{slot.submits_per_second:,.0f} | " + " | ".join(cells) + " |"
        )
    return lines
