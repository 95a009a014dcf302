"""The small interface every scenario implements. A scenario imports what it drives with
plain imports (a broken import fails the whole bench at once, never hides as "not run"); one
that cannot run in this bench says why in its result's status."""

from __future__ import annotations

from typing import ClassVar

from bench.context import Bench
from bench.report import ScenarioResult


class Scenario:
    name: ClassVar[str]
    title: ClassVar[str]
    # Scenarios this one takes its data or its reference rate from (bench.handover).
    requires: ClassVar[tuple[str, ...]] = ()
    # A closed-loop throughput: --repeat N runs it N times and reports median and spread.
    repeatable: ClassVar[bool] = False
    # Runs whatever --only says (it reports on the others).
    always: ClassVar[bool] = False

    def result(self) -> ScenarioResult:
        return ScenarioResult(name=self.name, title=self.title)

    def run(self, bench: Bench) -> ScenarioResult:
        raise NotImplementedError
