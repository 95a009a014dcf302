"""Bench results: what a scenario reports, and the JSON and Markdown written from it. Pure:
no Django, no processes (tested in tests/bench)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.stats import median_index

MET, NOT_MET = "met", "NOT MET"


@dataclass
class Metric:
    name: str
    value: Any  # the raw figure (number, dict, text), kept in the JSON
    text: str  # how the table shows it
    goal: str = ""
    met: bool | None = None  # None: no goal
    check: bool = False  # a data check: when not met, the bench exits non-zero


@dataclass
class ScenarioResult:
    name: str
    title: str
    status: str = "ran"  # "ran", "not run: <why>", "failed: <error>"
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: Any, text: str, goal: str = "", met: bool | None = None):
        self.metrics.append(Metric(name, value, text, goal, met))

    def check(self, name: str, found: int, text: str = "", expected: int = 0) -> None:
        """A data check: `found` problems (missing rows, duplicates...) where `expected`."""
        self.metrics.append(
            Metric(name, found, text or f"{found:,}", f"= {expected:,}", found == expected, True)
        )

    @property
    def goals_missed(self) -> list[Metric]:
        return [m for m in self.metrics if m.met is False]

    @property
    def failed(self) -> bool:
        return self.status.startswith("failed")


def gate_failures(results: list[ScenarioResult]) -> list[str]:
    """What must never happen: a scenario that failed, a data check that found a problem.
    Timing goals missed are not here (they are reported, not failed)."""
    failures = [f"{r.title}: {r.status}" for r in results if r.failed]
    failures += [
        f"{r.title}: {m.name} is {m.text} (must be {m.goal.removeprefix('= ')})"
        for r in results
        for m in r.metrics
        if m.check and m.met is False
    ]
    return failures


def exit_code(results: list[ScenarioResult]) -> int:
    return 1 if gate_failures(results) else 0


def _order_key(value: Any) -> float | None:
    """What ranks the runs of one metric: the number, a latency's p95, a rate; None when the
    value has no order (a text, CPU by role)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict):
        for key in ("p95", "rate"):
            if isinstance(value.get(key), int | float):
                return value[key]
    return None


def merge_metric(runs: list[Metric]) -> Metric:
    """One metric over repeated runs: the median run with the spread (min-max), a data
    check failed if any run failed it, values without an order side by side."""
    first, texts = runs[0], [m.text for m in runs]
    if first.check:
        text = first.text if len(set(texts)) == 1 else " / ".join(texts)
        met = all(m.met for m in runs)
        return replace(first, value=[m.value for m in runs], text=text, met=met)
    keys = [_order_key(m.value) for m in runs]
    if any(key is None for key in keys):
        text = first.text if len(set(texts)) == 1 else " | ".join(texts)
        return replace(first, value=[m.value for m in runs], text=text)
    middle = runs[median_index(keys)]
    low, high = runs[keys.index(min(keys))], runs[keys.index(max(keys))]
    return replace(
        middle,
        value={"median": middle.value, "min": low.value, "max": high.value},
        text=f"{middle.text} (median of {len(runs)}; {low.text} - {high.text})",
    )


def merge_repeats(runs: list[ScenarioResult]) -> ScenarioResult:
    """The runs of one scenario (--repeat N) as one result: each metric merged; a failed
    run stands for all. The last run's tables (its figures include every earlier run)."""
    broken = next((run for run in runs if run.status != "ran"), None)
    if len(runs) == 1 or broken:
        return broken or runs[0]
    last = runs[-1]
    merged = ScenarioResult(last.name, last.title, details={"runs": [r.details for r in runs]})
    merged.details["markdown"] = last.details.get("markdown", [])
    for metric in runs[0].metrics:
        same = [m for run in runs for m in run.metrics if m.name == metric.name]
        merged.metrics.append(merge_metric(same))
    return merged


def fmt_int(value: float) -> str:
    return f"{round(value):,}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def fmt_latency(latency_ms: dict[str, float]) -> str:
    if not latency_ms:
        return "n/a"
    return " / ".join(fmt_ms(latency_ms.get(p)) for p in ("p50", "p95", "p99"))


def fmt_bytes(value: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _sizes_line(sizes: dict | None) -> list[str]:
    if not sizes:
        return []
    return [
        f"Sizes: {sizes['teachers']:,} teachers, {sizes['connections']} connections, "
        f"{sizes['answer_save_s']:g} s of answer saves over {sizes['answer_sessions']:,} "
        f"sessions, {sizes['storm_attempts']:,} submits in {sizes['storm_window_s']:g} s, "
        f"{sizes['dashboard_answers']:,} answers and {sizes['dashboard_complaints']:,} "
        f"complaints under the dashboards, {sizes.get('start_teachers', 0):,} starts in "
        f"{sizes.get('start_window_s', 0):g} s, {sizes.get('open_loop_s', 0):g} s per open-loop "
        "rate."
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    lines = [
        f"# Crowdproof bench: {meta['mode']} run, {meta['date']}",
        "",
        f"Machine: {meta['cores']} cores ({meta['cpu']}), {meta['memory']}; "
        f"git {meta['commit']}; {meta['stack']}.",
        f"Load generators: {meta['generators']}. Whole run: {meta['seconds']:.0f} s.",
        *_sizes_line(meta.get("sizes")),
        *(
            [f"Closed-loop throughputs ran {meta['repeat']} times: median (min - max)."]
            if meta.get("repeat", 1) > 1
            else []
        ),
        "",
        "| scenario | metric | value | goal | |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in results:
        if result.status != "ran":
            lines.append(f"| {result.title} | | {_cell(result.status)} | | |")
            continue
        for metric in result.metrics:
            verdict = "" if metric.met is None else (MET if metric.met else f"**{NOT_MET}**")
            lines.append(
                f"| {result.title} | {_cell(metric.name)} | {_cell(metric.text)} "
                f"| {_cell(metric.goal)} | {verdict} |"
            )
    missed = [(r, m) for r in results for m in r.goals_missed]
    not_run = [r for r in results if r.status != "ran"]
    lines += ["", "## Goals not met", ""]
    lines += [f"- {r.title}: {m.name} is {m.text} (goal {m.goal})" for r, m in missed] or ["- none"]
    if not_run:
        lines += ["", "## Not run", ""]
        lines += [f"- {r.title}: {r.status}" for r in not_run]
    failures = gate_failures(results)
    lines += ["", "## Gate (data checks and scenario errors: the run exits 1 on any)", ""]
    lines += [f"- **FAILED** {failure}" for failure in failures] or [
        "- passed: every data check held and no scenario failed"
    ]
    for result in results:
        lines += result.details.get("markdown", [])
    return "\n".join(lines) + "\n"


def to_json(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    payload = {"meta": meta, "scenarios": [asdict(result) for result in results]}
    for scenario in payload["scenarios"]:
        scenario["details"].pop("markdown", None)
    return json.dumps(payload, indent=2, default=str)


def write_results(
    directory: Path, stamp: str, meta: dict, results: list[ScenarioResult], *, prefix: str = ""
) -> str:
    """bench/results/<prefix><stamp>.json, <prefix>latest.json and <prefix>latest.md (the
    drill's prefix is "drill-"); returns the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(meta, results)
    data = to_json(meta, results)
    (directory / f"{prefix}{stamp}.json").write_text(data)
    (directory / f"{prefix}latest.json").write_text(data)
    (directory / f"{prefix}latest.md").write_text(markdown)
    return markdown
