"""Open-loop load: requests sent at a fixed arrival rate, whatever the server's pace.

wrk is closed-loop (a connection sends its next request when the previous one answers), which
hides queueing when the server slows down. For "N submissions within 30 s" or "complaints
arriving at R per second", each request has a scheduled time and its latency is measured
from that time, so waiting for a free sender counts against the server, as it would for a
user. The rates are modest (hundreds per second), which Python threads keep up with; their
CPU share is reported like wrk's.
"""

from __future__ import annotations

import http.client
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from bench.stats import cpu_share, latency_summary


@dataclass(frozen=True)
class Arrival:
    id: str  # sent as X-Request-ID
    path: str
    method: str = "POST"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    id: str
    status: int  # 0: no response (connection error or timeout)
    latency_ms: float
    body: bytes = b""
    location: str = ""
    due_at: float = 0.0  # the scheduled send time, wall clock (time.time())


@dataclass
class ArrivalsResult:
    outcomes: list[Outcome]
    seconds: float  # from the first scheduled send to the last answer
    generator_cpu_share: float
    cpu_cores: dict[str, float] = field(default_factory=dict)  # role -> cores busy

    @property
    def latency_ms(self) -> dict[str, float]:
        return latency_summary([o.latency_ms for o in self.outcomes if o.status])

    @property
    def rate(self) -> float:
        """Requests sent (and answered, or failed) per second over the run."""
        return len(self.outcomes) / self.seconds if self.seconds > 0 else 0.0

    @property
    def statuses(self) -> dict[int, int]:
        return dict(Counter(o.status for o in self.outcomes))

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 400]

    @property
    def failed(self) -> int:
        return len(self.outcomes) - len(self.ok)


def run_arrivals(
    *,
    base_url: str,
    arrivals: Sequence[Arrival],
    rate: float,
    senders: int = 64,
    timeout_s: float = 30.0,
    keep_body: bool = False,
) -> ArrivalsResult:
    """Send arrivals[i] at start + i / rate from a pool of keep-alive connections."""
    target = urlsplit(base_url)
    schedule = itertools.count()  # next() is atomic under the GIL
    outcomes: list[Outcome | None] = [None] * len(arrivals)
    start = time.monotonic() + 0.2
    wall_offset = time.time() - time.monotonic()
    cpu_before = time.process_time()

    def sender() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=timeout_s)
        while (index := next(schedule)) < len(arrivals):
            due = start + index / rate
            time.sleep(max(0.0, due - time.monotonic()))
            outcome, connection = _send(connection, arrivals[index], due, keep_body)
            outcomes[index] = replace(outcome, due_at=due + wall_offset)
        connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    cpu = time.process_time() - cpu_before
    return ArrivalsResult(
        outcomes=[o for o in outcomes if o is not None],
        seconds=seconds,
        generator_cpu_share=cpu_share(cpu, seconds, os.cpu_count() or 1),
    )


def _send(
    connection: http.client.HTTPConnection, arrival: Arrival, due: float, keep_body: bool
) -> tuple[Outcome, http.client.HTTPConnection]:
    headers = {"X-Request-ID": arrival.id, **arrival.headers}
    try:
        connection.request(arrival.method, arrival.path, body=arrival.body, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()  # reconnects on the next request
        return Outcome(arrival.id, 0, (time.monotonic() - due) * 1000), connection
    outcome = Outcome(
        id=arrival.id,
        status=response.status,
        latency_ms=(time.monotonic() - due) * 1000,
        body=body if keep_body else b"",
        location=response.getheader("Location", ""),
    )
    return outcome, connection
