"""Where the time goes: the throughputs of this run chained layer by layer, from gunicorn
alone to an answer save, each as a ratio to the layer before, with the CPU per request of
the web workers (Python) and of the whole stack. Runs after the answer save (with --repeat:
from the median runs)."""

from bench.context import Bench
from bench.report import ScenarioResult, fmt_ms, fmt_ratio
from bench.scenarios.base import Scenario
from bench.stats import cpu_ms_per_request, ratio_chain

# (throughput name, label, the role whose CPU is the Python per request). Each step adds one
# layer to the one before it.
CHAIN = (
    ("plain", "plain WSGI (gunicorn, no Django)", "plain WSGI web worker"),
    ("bare", "Django, no middleware (constant view)", "bare Django web worker"),
    ("constant", "our middleware (constant view)", "web worker"),
    ("upsert", "bare upsert view", "web worker"),
    ("answer_save", "answer save", "web worker"),
)


class Chain(Scenario):
    name = "chain"
    title = "Where the time goes"
    always = True

    def run(self, bench: Bench) -> ScenarioResult:
        result = self.result()
        runs = [bench.throughput(name) for name, _label, _role in CHAIN]
        if not any(runs):
            result.status = "not run: needs the ceilings or the answer save in the same run"
            return result
        ratios = ratio_chain([run.rate if run else None for run in runs])
        lines = [
            "",
            "## Where the time goes (req/s of each layer, in the same run)",
            "",
            "| step | req/s | ratio to the step before | web worker CPU per request "
            "| whole stack CPU per request |",
            "| --- | --- | --- | --- | --- |",
        ]
        for (_name, label, role), run, share in zip(CHAIN, runs, ratios, strict=True):
            if run is None:
                result.add(label, None, "not measured")
                lines.append(f"| {label} | not measured | | | |")
                continue
            python_ms = cpu_ms_per_request(run.cpu_cores.get(role), run.rate)
            stack_ms = cpu_ms_per_request(sum(run.cpu_cores.values()), run.rate)
            step = "" if share is None else f"; {fmt_ratio(share)} of the step before"
            result.add(
                label,
                {
                    "rate": run.rate,
                    "ratio": share,
                    "web_worker_ms": python_ms,
                    "stack_ms": stack_ms,
                },
                f"{run.rate:,.0f} req/s{step}; CPU per request {fmt_ms(python_ms)} "
                f"(web workers), {fmt_ms(stack_ms)} (whole stack)",
            )
            lines.append(
                f"| {label} | {run.rate:,.0f} | {fmt_ratio(share) if share else ''} "
                f"| {fmt_ms(python_ms)} | {fmt_ms(stack_ms)} |"
            )
        result.details["markdown"] = lines
        return result
