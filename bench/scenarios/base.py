"""The small interface every scenario implements."""

from __future__ import annotations

from importlib import import_module
from typing import ClassVar

from bench.context import Bench
from bench.report import ScenarioResult


def present(dotted: str) -> bool:
    """ "package.module" or "package.module:attribute" exists in the tree."""
    module_name, _, attribute = dotted.partition(":")
    try:
        module = import_module(module_name)
    except ImportError:
        return False
    return not attribute or hasattr(module, attribute)


class Scenario:
    name: ClassVar[str]
    title: ClassVar[str]
    # (feature, "module:attribute") pairs the scenario drives; any absent one means the
    # report says "not run: <feature> missing" instead of a number.
    needs: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Scenarios this one takes its data or its reference rate from (bench.handover).
    requires: ClassVar[tuple[str, ...]] = ()
    # A closed-loop throughput: --repeat N runs it N times and reports median and spread.
    repeatable: ClassVar[bool] = False
    # Runs whatever --only says (it reports on the others).
    always: ClassVar[bool] = False

    def missing(self) -> str | None:
        for feature, dotted in self.needs:
            if not present(dotted):
                return f"not run: {feature} missing ({dotted})"
        return None

    def result(self) -> ScenarioResult:
        return ScenarioResult(name=self.name, title=self.title)

    def run(self, bench: Bench) -> ScenarioResult:
        raise NotImplementedError
