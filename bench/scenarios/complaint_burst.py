"""Scenario 4: a burst of public complaints with 1 MB attachments at a fixed arrival rate,
then triage throughput with 1, 2 and 4 RQ workers against the fake LLM at a fixed latency.

The filing must not wait for triage (p95 < 200 ms) and nothing filed may be lost: every
reference handed out exists with its attachment, byte for byte. Triage is I/O bound, so its
throughput should grow with the workers: it is reported as a share of the ideal,
workers / LLM latency.
"""

from __future__ import annotations

import hashlib
import io
import re
import time

from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from apps.complaints.models import Attachment, Complaint
from bench.complaints import (
    attachment_body,
    filing_arrival,
    triage_backlog,
    triage_finished,
    triage_pending,
)
from bench.context import Bench
from bench.report import ScenarioResult, fmt_int, fmt_latency, fmt_pct
from bench.scenarios.base import Scenario

P95_GOAL_MS = 200
LINEAR_GOAL = 0.8  # share of the ideal that still counts as "grows linearly"
WORKER_COUNTS = (1, 2, 4)
DRAIN_SECONDS = 30
_REFERENCE = re.compile(rb"CP-\d{4}-\d{6}")


class ComplaintBurst(Scenario):
    name = "complaint_burst"
    title = "Complaint burst"

    def run(self, bench: Bench) -> ScenarioResult:
        result = self.result()
        self.burst(bench, result)
        self.triage(bench, result)
        return result

    @staticmethod
    def burst(bench: Bench, result: ScenarioResult) -> None:
        sizes = bench.sizes
        count = round(sizes.complaint_rate * sizes.complaint_burst_s)
        path = reverse("complaints:file")
        arrivals = [filing_arrival(path, number) for number in range(count)]
        load = bench.arrivals(arrivals, rate=sizes.complaint_rate, keep_body=True)
        result.add(
            "filings (1 MB attachment each)",
            count,
            f"{count:,} at {sizes.complaint_rate:g}/s",
        )
        result.add(
            "p50 / p95 / p99",
            load.latency_ms,
            fmt_latency(load.latency_ms),
            f"p95 < {P95_GOAL_MS} ms",
            load.latency_ms.get("p95", float("inf")) < P95_GOAL_MS,
        )
        result.add("errors", load.failed, fmt_int(load.failed), "= 0", not load.failed)
        bench.add_cpu(result, load)
        result.details["statuses"] = load.statuses

        # Nothing lost: each reference handed out exists with its attachment, byte for byte.
        handed_out, unreadable = {}, 0
        for outcome in load.ok:
            match = _REFERENCE.search(outcome.body)
            if match:
                handed_out[match.group().decode()] = int(outcome.id.removeprefix("file-"))
            else:
                unreadable += 1
        stored = {
            a.complaint.reference: a
            for a in Attachment.objects.select_related("complaint").filter(
                complaint__reference__in=list(handed_out)
            )
        }
        lost = unreadable
        for reference, number in handed_out.items():
            attachment = stored.get(reference)
            expected = hashlib.sha256(attachment_body(number)).hexdigest()
            lost += (
                attachment is None
                or attachment.sha256 != expected
                or not default_storage.exists(attachment.file.name)
            )
        result.check("acknowledged filings lost (complaint, attachment or its bytes)", lost)
        references = Complaint.objects.filter(reference__in=list(handed_out)).count()
        result.check("duplicate or missing references", abs(references - len(handed_out)))

    @staticmethod
    def triage(bench: Bench, result: ScenarioResult) -> None:
        sizes = bench.sizes
        latency_s = sizes.llm_latency_ms / 1000
        llm, llm_url = bench.stack.start_helper(
            "fake-llm", "doubles.llm", "--latency-ms", str(sizes.llm_latency_ms)
        )
        env = {
            "TRIAGE_BACKEND": "openai",
            "TRIAGE_API_BASE": f"{llm_url}/v1",
            "TRIAGE_API_KEY": "bench",
        }
        rates = {}
        for workers in WORKER_COUNTS:
            ideal = workers / latency_s
            triage_backlog(max(0, round(ideal * sizes.triage_round_s * 1.3) - triage_pending()))
            bench.stack.start_workers(workers, extra_env=env)
            before, began = triage_finished(), time.monotonic()
            time.sleep(sizes.triage_round_s)
            done, seconds = triage_finished() - before, time.monotonic() - began
            bench.stack.stop_workers()
            rates[workers] = done / seconds
            share = rates[workers] / ideal
            result.add(
                f"triage with {workers} worker{'s' * (workers > 1)}",
                {"per_second": rates[workers], "ideal": ideal, "share": share},
                f"{rates[workers]:.1f}/s = {fmt_pct(share)} of {ideal:g}/s",
                f">= {fmt_pct(LINEAR_GOAL)} of ideal",
                share >= LINEAR_GOAL,
            )
        scaling = rates[WORKER_COUNTS[-1]] / rates[WORKER_COUNTS[0]] if rates[1] else 0.0
        result.add(
            f"triage speed-up {WORKER_COUNTS[0]} -> {WORKER_COUNTS[-1]} workers",
            scaling,
            f"x{scaling:.2f}",
            f"x{WORKER_COUNTS[-1]} (linear)",
        )
        # Leave no queued triage behind for later scenarios' workers. A job a stopped worker
        # was holding is recovered as in production, by the sweeper; with no worker running
        # now, every job not waiting in Redis is such a job.
        call_command("requeue_triage", "--older-than", "0", stdout=io.StringIO())
        bench.stack.start_workers(WORKER_COUNTS[-1], extra_env=env)
        deadline = time.monotonic() + DRAIN_SECONDS
        while triage_pending() and time.monotonic() < deadline:
            time.sleep(0.5)
        bench.stack.stop_workers()
        bench.stack.stop_helper(llm)
        result.add(
            "triage still pending after the rounds", triage_pending(), fmt_int(triage_pending())
        )
        result.details["fake_llm_latency_ms"] = sizes.llm_latency_ms
