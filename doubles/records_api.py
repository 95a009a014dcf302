"""A fake of the Knack-style records API, as a small real HTTP server (standard library only).

    python -m doubles.records_api --port 8099 --rate 10 --daily-quota 25000 \
        [--fail-rate 0.05] [--latency-ms 20]

It enforces, like the real one, the per-second limit (once more than `--rate` requests
arrive inside one calendar second, every further request in that second gets 429 "Rate limit
exceeded") and the daily call quota, with the `X-RateLimit-*` / `X-PlanLimit-*` headers on
every answer and no `Retry-After` unless asked for. It can inject latency, 5xx, 4xx, forced
429s and dropped connections, and counts every call and every duplicate record by our
external key field. Tests and the benchmark read `GET /__stats` and steer it with
`POST /__control` (JSON, see `FakeState.control`).
"""

import argparse
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RATE_LIMIT_MESSAGE = "Rate limit exceeded"
PLAN_LIMIT_MESSAGE = "Plan limit exceeded"
MAX_ROWS_PER_PAGE = 1000
DEFAULT_KEY_FIELDS = {"object_1": "field_1", "object_2": "field_20"}


class FakeState:
    """Everything the server knows, behind one lock."""

    def __init__(self, *, rate, daily_quota, app_id, api_key, key_fields, day_seconds=86400):
        self.lock = threading.Lock()
        self.rate = rate
        self.daily_quota = daily_quota
        self.app_id = app_id
        self.api_key = api_key
        self.key_fields = key_fields
        self.day_seconds = day_seconds
        self.latency_ms = 0
        self.fail_rate = 0.0
        self.retry_after = False  # send Retry-After on 429s
        self.block_seconds = 0.0
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict[str, dict]] = {}
        self.counts = Counter()
        self.per_second = Counter()  # calendar second -> requests that arrived in it
        self.day = self._day()
        self.used_today = 0
        self.blocked_until = 0.0
        self.forced = Counter()  # "429", "503", "400", "drop": how many of the next calls

    def _day(self) -> int:
        return int(time.time() // self.day_seconds)

    def control(self, changes: dict) -> None:
        """latency_ms, fail_rate, rate, daily_quota, retry_after (bool), reset (bool),
        fail_next / reject_next / drop_next / limit_next (int: the next N calls answer 503 /
        400 / a dropped connection after the work is done / 429), block_seconds (a forced
        429 blocks the application that long: every call in between gets 429 too)."""
        with self.lock:
            if changes.get("reset"):
                self.reset()
            for name in (
                "latency_ms",
                "fail_rate",
                "rate",
                "daily_quota",
                "retry_after",
                "block_seconds",
            ):
                if name in changes:
                    setattr(self, name, changes[name])
            for name, kind in (
                ("fail_next", "503"),
                ("reject_next", "400"),
                ("drop_next", "drop"),
                ("limit_next", "429"),
            ):
                self.forced[kind] += int(changes.get(name, 0))

    def admit(self, method: str) -> tuple[int | None, str, dict]:
        """Count one API call; return (status to refuse with or None, message, headers)."""
        now = time.time()
        second = int(now)
        with self.lock:
            if self._day() != self.day:
                self.day, self.used_today = self._day(), 0
            self.counts["calls"] += 1
            self.counts[method] += 1
            self.per_second[second] += 1
            in_second = self.per_second[second]
            headers = self._limit_headers(now, second, in_second)
            if now < self.blocked_until or in_second > self.rate:
                self.counts["rate_limited"] += 1
                return 429, RATE_LIMIT_MESSAGE, headers
            if self.used_today >= self.daily_quota:
                self.counts["quota_limited"] += 1
                return 429, PLAN_LIMIT_MESSAGE, headers
            if self.forced["429"]:
                self.forced["429"] -= 1
                self.counts["rate_limited"] += 1
                self.blocked_until = now + self.block_seconds
                return 429, RATE_LIMIT_MESSAGE, self._limit_headers(now, second, in_second)
            self.used_today += 1
            headers["X-PlanLimit-Remaining"] = str(max(0, self.daily_quota - self.used_today))
            for kind, status in (("503", 503), ("400", 400)):
                if self.forced[kind]:
                    self.forced[kind] -= 1
                    self.counts[f"injected_{kind}"] += 1
                    return status, f"injected {kind}", headers
            if self.fail_rate and random.random() < self.fail_rate:
                self.counts["injected_503"] += 1
                return 503, "injected 503", headers
            return None, "", headers

    def _limit_headers(self, now: float, second: int, in_second: int) -> dict:
        headers = {
            "X-PlanLimit-Limit": str(self.daily_quota),
            "X-PlanLimit-Remaining": str(max(0, self.daily_quota - self.used_today)),
            # Milliseconds until the quota resets, as the real API sends it.
            "X-PlanLimit-Reset": str(int(((self.day + 1) * self.day_seconds - now) * 1000)),
            "X-RateLimit-Limit": str(self.rate),
            "X-RateLimit-Remaining": str(max(0, self.rate - in_second)),
            # Epoch seconds: the end of this second, or of a longer block.
            "X-RateLimit-Reset": str(max(second + 1, math.ceil(self.blocked_until))),
        }
        if self.retry_after:
            headers["Retry-After"] = str(max(1, round(self.blocked_until - now)))
        return headers

    def take_drop(self) -> bool:
        with self.lock:
            if self.forced["drop"]:
                self.forced["drop"] -= 1
                self.counts["dropped"] += 1
                return True
            return False

    def stats(self) -> dict:
        with self.lock:
            duplicates = 0
            for object_key, records in self.records.items():
                field = self.key_fields.get(object_key)
                keys = Counter(r.get(field) for r in records.values() if r.get(field))
                duplicates += sum(count - 1 for count in keys.values())
            return {
                **{name: self.counts[name] for name in ("calls", "rate_limited", "quota_limited")},
                "counts": dict(self.counts),
                "records": sum(len(records) for records in self.records.values()),
                "duplicates": duplicates,
                "max_calls_in_a_second": max(self.per_second.values(), default=0),
                "used_today": self.used_today,
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API
    state: FakeState

    def log_message(self, format, *args):  # one line per call would drown the benchmark
        pass

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body() if method in ("POST", "PUT") else {}
        if url.path == "/__stats":
            return self._send(200, self.state.stats())
        if url.path == "/__control" and method == "POST":
            self.state.control(body)
            return self._send(200, {"ok": True})
        parts = url.path.strip("/").split("/")
        if len(parts) not in (4, 5) or parts[:2] != ["v1", "objects"] or parts[3] != "records":
            return self._send(404, {"errors": [{"message": "Not found"}]})
        if (
            self.headers.get("X-Knack-Application-Id") != self.state.app_id
            or self.headers.get("X-Knack-REST-API-KEY") != self.state.api_key
        ):
            return self._send(401, {"errors": [{"message": "Invalid API key"}]})
        refused, message, headers = self.state.admit(method)
        if refused:
            return self._send(refused, {"errors": [{"message": message}]}, headers)
        if self.state.latency_ms:
            time.sleep(self.state.latency_ms / 1000)
        status, answer = self._records(
            method, parts[2], parts[4] if len(parts) == 5 else None, parse_qs(url.query), body
        )
        if self.state.take_drop():
            self.close_connection = True  # the work is done, the answer is lost
            return None
        return self._send(status, answer, headers)

    def _records(self, method, object_key, record_id, query, body) -> tuple[int, dict]:
        state = self.state
        with state.lock:
            records = state.records.setdefault(object_key, {})
            if record_id is None and method == "GET":
                return 200, _page(records, query)
            if record_id is None and method == "POST":
                record = {"id": uuid.uuid4().hex[:24], **_fields(body)}
                records[record["id"]] = record
                return 200, record
            if record_id not in records:
                return 404, {"errors": [{"message": "Record not found"}]}
            if method == "PUT":
                records[record_id].update(_fields(body))
            if method == "DELETE":
                del records[record_id]
                return 200, {"delete": True}
            return 200, records[record_id]


def _fields(body: dict) -> dict:
    return {name: value for name, value in body.items() if name.startswith("field_")}


def _page(records: dict, query: dict) -> dict:
    rows = list(records.values())
    if "filters" in query:
        rules = json.loads(query["filters"][0]).get("rules", [])
        for rule in rules:  # operator "is", as we use it
            rows = [r for r in rows if str(r.get(rule["field"])) == str(rule["value"])]
    per_page = min(int(query.get("rows_per_page", ["25"])[0]), MAX_ROWS_PER_PAGE)
    page = max(1, int(query.get("page", ["1"])[0]))
    total_pages = max(1, -(-len(rows) // per_page))
    return {
        "total_pages": total_pages,
        "current_page": page,
        "total_records": len(rows),
        "records": rows[(page - 1) * per_page : page * per_page],
    }


class FakeRemote:
    """The server in a background thread (tests) or in the foreground (`main`)."""

    def __init__(self, *, port=0, host="127.0.0.1", **options):
        self.state = FakeState(**options)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"

    def start(self) -> "FakeRemote":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0: any free port (printed)")
    parser.add_argument("--rate", type=int, default=10, help="requests per second")
    parser.add_argument("--daily-quota", type=int, default=25000)
    parser.add_argument("--day-seconds", type=int, default=86400, help="length of a quota day")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of calls -> 503")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After on 429")
    parser.add_argument("--app-id", default="fake-app")
    parser.add_argument("--api-key", default="fake-key")
    parser.add_argument(
        "--key-field",
        action="append",
        metavar="OBJECT=FIELD",
        help="our external key field per object, for the duplicate count "
        "(default: object_1=field_1, object_2=field_20)",
    )
    args = parser.parse_args(argv)
    key_fields = dict(item.split("=", 1) for item in args.key_field or []) or DEFAULT_KEY_FIELDS
    remote = FakeRemote(
        host=args.host,
        port=args.port,
        rate=args.rate,
        daily_quota=args.daily_quota,
        day_seconds=args.day_seconds,
        app_id=args.app_id,
        api_key=args.api_key,
        key_fields=key_fields,
    )
    remote.state.control(
        {
            "latency_ms": args.latency_ms,
            "fail_rate": args.fail_rate,
            "retry_after": args.retry_after,
        }
    )
    print(f"fake records API listening on {remote.url}", flush=True)
    try:
        remote.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        remote.server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
