"""Peak RSS of each web and worker process (and the services) over the whole run."""

from bench.context import Bench
from bench.report import ScenarioResult, fmt_bytes
from bench.scenarios.base import Scenario


class Memory(Scenario):
    name = "memory"
    title = "Memory (peak RSS)"
    always = True

    def run(self, bench: Bench) -> ScenarioResult:
        bench.monitor.sample()
        result = self.result()
        for role, peak in sorted(bench.monitor.role_peaks().items()):
            text = f"{fmt_bytes(peak.largest_bytes)} per process ({peak.processes} seen)"
            if peak.processes > 1:
                text += f", {fmt_bytes(peak.total_bytes)} all together"
            result.add(role, peak.largest_bytes, text)
        return result
