"""A fake OpenAI-compatible chat-completions server, for tests and the benchmark.

    python -m doubles.llm --port 8090 --latency-ms 200

Modes: `good` (a valid triage answer), `garbage` (content that is not JSON), `slow` (waits
`slow_seconds` before answering), `429` and `500` (errors), `unknown` (a category that is not
in the tables), `low` (confidence 0.2). `script` is a list of modes used by the next requests
in turn before falling back to `mode`. POST /_control {"mode": ..., "script": [...],
"latency_ms": ...} changes them on a running server; GET /_control shows them with the count
of requests served. No Django: it runs anywhere.
"""

import argparse
import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The good answer picks the first listed code whose keywords occur in the complaint.
KEYWORDS = {
    "extortion": ("threat", "false case", "or else"),
    "procurement-fraud": ("tender", "contract", "bid"),
    "embezzlement": ("embezzl", "misappropriat", "siphon"),
    "bribery": ("bribe", "money", "cash", "rupees", "rs"),
}
SECTORS = {
    "education": ("school", "teacher", "headmaster"),
    "police": ("police", "constable"),
    "public-works": ("road", "bridge", "tender"),
    "health": ("hospital", "doctor"),
}
ACTS = {
    "bribery": "pca-7",
    "extortion": "bns-308",
    "procurement-fraud": "gfr-144",
    "embezzlement": "bns-316",
}


def _pick(table: dict, text: str, default):
    lowered = text.lower()
    return next(
        (code for code, words in table.items() if any(w in lowered for w in words)), default
    )


def good_answer(complaint: str) -> dict:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", complaint) if s.strip()] or [""]
    first = sentences[0]
    category = _pick(KEYWORDS, complaint, "bribery")

    def part(value):
        return {"value": value[:120], "source": value}

    return {
        "who": part(first),
        "what": part(first),
        "when": part(""),
        "where": part(""),
        "why": part(""),
        "how": part(sentences[-1]),
        "category": category,
        "sector": _pick(SECTORS, complaint, None),
        "act": ACTS.get(category),
        "confidence": 0.91,
        "summary": f"Alleged {category.replace('-', ' ')}: {first[:160]}",
    }


class FakeLLM:
    def __init__(self, *, mode: str = "good", latency_ms: int = 0, slow_seconds: float = 5.0):
        self.mode = mode
        self.script: list[str] = []
        self.latency_ms = latency_ms
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def next_mode(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else self.mode

    def answer(self, body: dict) -> tuple[int, dict]:
        self.requests.append(body)
        mode = self.next_mode()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode in ("429", "500"):
            return int(mode), {"error": {"message": f"fake {mode}", "type": "fake"}}
        try:
            complaint = body["messages"][-1]["content"].split("Complaint:\n", 1)[-1]
        except (KeyError, IndexError, TypeError, AttributeError):
            return 400, {"error": {"message": "messages[-1].content is required"}}
        answer = good_answer(complaint)
        if mode == "unknown":
            answer["category"] = "jaywalking"
        elif mode == "low":
            answer["confidence"] = 0.2
        content = (
            "Sure! Here is my analysis: the complaint {"
            if mode == "garbage"
            else json.dumps(answer)
        )
        return 200, {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
        }

    def control(self, body: dict | None) -> dict:
        if body:
            with self.lock:
                self.mode = body.get("mode", self.mode)
                self.script = list(body.get("script", self.script))
                self.latency_ms = int(body.get("latency_ms", self.latency_ms))
        return {
            "mode": self.mode,
            "script": self.script,
            "latency_ms": self.latency_ms,
            "requests": len(self.requests),
        }

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; returns the API base URL (…/v1)."""
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://{host}:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _handler(fake: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self):
            if self.path == "/_control":
                self._send(200, fake.control(None))
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            try:
                body = self._body()
            except ValueError:
                self._send(400, {"error": {"message": "invalid JSON"}})
                return
            if self.path == "/_control":
                self._send(200, fake.control(body))
            elif self.path.endswith("/chat/completions"):
                # The client may have given up (timeout): nothing left to answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(*fake.answer(body))
            else:
                self._send(404, {"error": {"message": "not found"}})

        def log_message(self, format, *args):
            pass

    return Handler


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--mode", default="good")
    args = parser.parse_args(argv)
    fake = FakeLLM(mode=args.mode, latency_ms=args.latency_ms)
    url = fake.start(host=args.host, port=args.port)
    print(f"fake OpenAI-compatible API on {url} (mode {args.mode})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
