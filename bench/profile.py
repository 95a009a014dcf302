"""py-spy on the gunicorn workers while a scenario runs, summarised as the top costs.

py-spy samples the running processes from outside (no code change, --nonblocking so the
workers are never paused, --gil so that only running Python code is counted); its "raw"
output has one line per distinct stack:
"outer (file:line);...;inner (file:line) COUNT".
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_SITE = re.compile(r".*/site-packages/|.*/lib/python3\.\d+/")
_PROJECT = re.compile(r".*?/((?:apps|config|bench)/[^/]+)")


def _parse(frame: str) -> tuple[str, str]:
    """ "get_response (/…/site-packages/django/core/handlers/base.py:174)" ->
    ("get_response (django/core/handlers/base.py)", "django")."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "other"
    path = match["file"]
    short = _SITE.sub("", path)
    if "/site-packages/" in path:
        package = short.split("/", 1)[0]
    elif re.search(r"/lib/python3\.\d+/", path):
        package = "python stdlib"
    elif project := _PROJECT.match(path):
        package = project[1].removesuffix(".py")
        short = path[project.start(1) :]
    else:
        package = "other"
    return f"{match['function']} ({short})", package


@dataclass
class ProfileSummary:
    samples: int
    inclusive: list[tuple[str, float]]  # (project frame, share of samples with it on the stack)
    own: list[tuple[str, float]]  # (frame, share of samples where it was running)
    packages: list[tuple[str, float]]  # (package, share of samples running in its code)


def summarize_collapsed(text: str, *, top: int = 12) -> ProfileSummary:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # py-spy --subprocesses puts a "process PID:..." frame at the root: not code.
        frames = [_parse(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        samples += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        # Inclusive time only for the project's own code: how much of the Python time is
        # spent inside the view, the service, the middleware (the rest is plumbing).
        for name in {name for name, package in frames if package.startswith("apps/")}:
            inclusive[name] += count
    if not samples:
        return ProfileSummary(0, [], [], [])

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, count / samples) for name, count in counter.most_common(top)]

    return ProfileSummary(samples, shares(inclusive), shares(own), shares(packages))


def start_profiler(*, master_pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy over the gunicorn master and its workers, or None when py-spy is missing."""
    py_spy = shutil.which("py-spy") or str(
        Path(__file__).resolve().parent.parent / ".venv/bin/py-spy"
    )
    if not Path(py_spy).exists():
        return None
    command = [
        py_spy,
        "record",
        "--pid",
        str(master_pid),
        "--subprocesses",
        "--nonblocking",
        # Only the thread holding the GIL: where the workers' Python CPU goes. Time spent
        # waiting on PostgreSQL or Valkey shows in the run's CPU split instead.
        "--gil",
        "--full-filenames",
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    with open(out.with_suffix(".log"), "wb") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def profile_markdown(summary: ProfileSummary, heading: str, note: str) -> list[str]:
    """The summary as Markdown: where the workers' time went, by package, then by function."""

    def table(title: str, rows: list[tuple[str, float]]) -> list[str]:
        lines = ["", f"| {title} | share of samples |", "| --- | --- |"]
        return lines + [f"| `{name}` | {share * 100:.1f}% |" for name, share in rows]

    lines = ["", f"## {heading}", "", f"{summary.samples:,} samples. {note}"]
    lines += table("package (own time)", summary.packages)
    lines += table("function (own time)", summary.own)
    lines += table("project function (inclusive: on the stack)", summary.inclusive)
    return lines
