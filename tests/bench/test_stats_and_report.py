"""The bench's pure parts: percentiles, ratios, wrk output parsing, profile and report
rendering. No load and no timing assertions here: `make bench` measures, tests check."""

import json

import pytest

from bench.load import parse_wrk_output
from bench.profile import summarize_collapsed
from bench.report import ScenarioResult, render_markdown, to_json
from bench.stats import cpu_share, last_acknowledged, latency_summary, percentile, ratio


def test_percentile_interpolates_between_ranks():
    values = [10, 20, 30, 40]
    assert percentile(values, 0) == 10
    assert percentile(values, 100) == 40
    assert percentile(values, 50) == 25
    assert percentile([5], 99) == 5


def test_percentile_rejects_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_latency_summary_and_ratios():
    summary = latency_summary(list(range(1, 101)))
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100
    assert latency_summary([]) == {}
    assert ratio(550, 1100) == 0.5
    assert ratio(1, 0) is None
    assert ratio(None, 5) is None
    assert cpu_share(1.0, 10.0, 2) == 0.05


def test_last_acknowledged_keeps_the_latest_ack_per_key():
    key_of = {"a1": ("attempt1", "q1"), "a2": ("attempt1", "q1"), "b1": ("attempt2", "q1")}
    acks = ["a1", "b1", "a2", "a1", "unknown"]
    assert last_acknowledged(acks, key_of) == {("attempt1", "q1"): "a1", ("attempt2", "q1"): "b1"}


WRK_OUTPUT = "\n".join(
    [
        "requests\t1000",
        "duration_us\t2000000",
        "bytes\t500000",
        *(f"error_{kind}\t0" for kind in ("connect", "read", "write", "timeout")),
        "error_status\t3",
        *(
            f"latency_{p}_us\t{n}000"
            for n, p in enumerate(["p50", "p90", "p95", "p99", "p99.9"], 1)
        ),
        "latency_mean_us\t1500",
        "latency_max_us\t9000",
        "status_200\t600",
        "status_200\t397",
        "status_500\t3",
        "ack\tx-1",
        "ack\tx-2",
        "body_bytes\t200000",
        "queries\t3000",
        "server_ms\t2500",
        "queries_3\t990",
        "queries_9\t10",
        "timed\t1000",
    ]
)


def test_parse_wrk_output():
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 1000
    assert result.rate == 500
    assert result.statuses == {200: 997, 500: 3}
    assert result.ok == 997
    assert result.failed == 3
    assert result.latency_ms["p95"] == 3.0
    assert result.bytes_per_response == 200
    assert result.queries_per_request == 3
    assert result.server_ms_per_request == 2.5
    assert result.query_counts == {3: 990, 9: 10}
    assert result.acks == ["x-1", "x-2"]


def test_profile_summary_counts_own_and_inclusive_time():
    raw = (
        'process 12:"gunicorn";handle (/v/site-packages/gunicorn/workers/gthread.py:10);'
        "view (/work/apps/x/views.py:5);execute (/v/site-packages/psycopg/cursor.py:7) 6\n"
        "handle (/v/site-packages/gunicorn/workers/gthread.py:10);"
        "view (/work/apps/x/views.py:9) 4\n"
    )
    summary = summarize_collapsed(raw)
    assert summary.samples == 10
    assert dict(summary.inclusive) == {"view (apps/x/views.py)": 1.0}
    assert dict(summary.own)["execute (psycopg/cursor.py)"] == 0.6
    assert dict(summary.own)["view (apps/x/views.py)"] == 0.4
    assert dict(summary.packages) == {"psycopg": 0.6, "apps/x": 0.4}


def test_report_renders_goals_and_not_run_scenarios(report_meta):
    ran = ScenarioResult("answer_save", "Answer save")
    ran.add("saves/s", 900.0, "900", ">= 1,100", False)
    ran.check("acknowledged saves missing", 0)
    skipped = ScenarioResult("sync", "Sync drain", status="not run: sync delivery missing")
    meta = report_meta
    markdown = render_markdown(meta, [ran, skipped])
    assert "| Answer save | saves/s | 900 | >= 1,100 | **NOT MET** |" in markdown
    assert "| Answer save | acknowledged saves missing | 0 | = 0 | met |" in markdown
    assert "- Answer save: saves/s is 900 (goal >= 1,100)" in markdown
    assert "- Sync drain: not run: sync delivery missing" in markdown
    assert json.loads(to_json(meta, [ran, skipped]))["scenarios"][1]["status"].startswith("not run")
