"""The benchmark as a smoke test: a small burst and a short steady run on SQLite, end to end.

It proves the bench works and that the app stores every reply complete; it asserts no timing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.once, pytest.mark.server]


@pytest.fixture(scope="module")
def bench_results(tmp_path_factory) -> dict:
    """One small run of `python -m bench.run`, as `make bench` runs it, writing to a temporary folder."""
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--databases", "sqlite", "--bursts", "10", "--levels", "10",
         "--warmup", "1", "--measure", "3", "--no-floor", "--no-env-size", "--no-pages",
         "--output", str(out / "latest.md"), "--json", str(out / "latest.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"json": json.loads((out / "latest.json").read_text()), "markdown": (out / "latest.md").read_text()}


def _shapes(results: dict) -> list[dict]:
    sqlite = results["json"]["databases"]["sqlite"]
    return sqlite["burst"] + sqlite["steady"]


def test_bench_runs_a_burst_and_a_steady_shape(bench_results):
    assert [(s["kind"], s["size"]) for s in _shapes(bench_results)] == [("burst", 10), ("steady", 10)]
    assert "## Burst" in bench_results["markdown"] and "## Steady" in bench_results["markdown"]


def test_bench_chats_end_without_errors_through_the_app_and_directly(bench_results):
    for shape in _shapes(bench_results):
        assert shape["app"]["errors"] == 0, shape["app"]["error_kinds"]
        assert shape["direct"]["errors"] == 0, shape["direct"]["error_kinds"]


def test_bench_finds_every_reply_stored_complete(bench_results):
    for shape in _shapes(bench_results):
        assert shape["stored"] == {"replies": shape["app"]["chats"], "complete": shape["app"]["chats"]}


def test_bench_sends_a_share_through_the_htmx_endpoint(bench_results):
    for shape in _shapes(bench_results):
        assert shape["app"]["routes"].get("htmx", 0) >= 1
        assert shape["app"]["routes"].get("api", 0) >= 1
