"""Bench results: what a scenario reports, and the JSON and Markdown written from it. Pure:
no Django, no processes (tested in tests/bench)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MET, NOT_MET = "met", "NOT MET"


@dataclass
class Metric:
    name: str
    value: Any  # the raw figure (number, dict, text), kept in the JSON
    text: str  # how the table shows it
    goal: str = ""
    met: bool | None = None  # None: no goal


@dataclass
class ScenarioResult:
    name: str
    title: str
    status: str = "ran"  # "ran", "not run: <feature> missing", "failed: <error>"
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: Any, text: str, goal: str = "", met: bool | None = None):
        self.metrics.append(Metric(name, value, text, goal, met))

    def check(self, name: str, found: int, text: str = "", expected: int = 0) -> None:
        """A data check: `found` problems (missing rows, duplicates...) where `expected`."""
        self.add(name, found, text or f"{found:,}", f"= {expected:,}", found == expected)

    @property
    def goals_missed(self) -> list[Metric]:
        return [m for m in self.metrics if m.met is False]


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
        "complaints under the dashboards."
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
