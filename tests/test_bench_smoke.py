"""The benchmark as a smoke test: a small burst and a short steady run on SQLite, end to end.

It proves the bench works (the SDK floor at two concurrencies, the idle measurement, the ratio
table beside a previous run's) and that the app stores every reply complete; it asserts no timing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.once, pytest.mark.server, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def bench_results(tmp_path_factory) -> dict:
    """One small run of `python -m bench.run`, as `make bench` runs it, writing to a temporary folder."""
    out = tmp_path_factory.mktemp("bench")
    (out / "ratios.json").write_text(json.dumps(PREVIOUS))
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--databases", "sqlite", "--bursts", "10", "--levels", "10",
         "--warmup", "1", "--measure", "3", "--floor-levels", "10,20", "--idle-seconds", "2", "--no-env-size",
         "--no-pages", "--output", str(out / "latest.md"), "--json", str(out / "latest.json"),
         "--ratios", str(out / "ratios.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"json": json.loads((out / "latest.json").read_text()), "markdown": (out / "latest.md").read_text(),
            "ratios": json.loads((out / "ratios.json").read_text())}


PREVIOUS = {"run": "2026-01-01 00:00 UTC", "load_at_start": 0.1, "reference_floor_ms": 7.0, "floor_levels": {},
            "shapes": {"bursts": [500], "levels": [10]},
            "databases": {"sqlite": {"cpu_L10": 9.87, "capacity": 10, "idle_cpu_pct": 0.42}}}


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


def test_bench_reports_cpu_per_reply_against_the_sdk_floor_at_the_same_concurrency(bench_results):
    results = bench_results["json"]
    assert set(results["floor"]["levels"]) == {"10", "20"}
    ratio = results["ratios"]["databases"]["sqlite"]["cpu_L10"]
    steady = results["databases"]["sqlite"]["steady"][0]
    assert ratio == pytest.approx(steady["cpu_ms_per_reply"] / results["floor"]["levels"]["10"]["mix"])
    assert "| app CPU per reply ÷ SDK floor, steady L = 10 |" in bench_results["markdown"]


def test_bench_shows_the_previous_runs_ratios_beside_this_runs_and_keeps_this_runs(bench_results):
    markdown = bench_results["markdown"]
    assert "the run of 2026-01-01 00:00 UTC" in markdown
    row = next(line for line in markdown.splitlines()
               if line.startswith("| app CPU per reply ÷ SDK floor, steady L = 10"))
    assert row.endswith("| 9.87× |")
    assert bench_results["ratios"]["run"] == bench_results["json"]["started_at"]
    assert bench_results["ratios"]["databases"]["sqlite"]["cpu_L10"] == bench_results["json"]["ratios"][
        "databases"]["sqlite"]["cpu_L10"]


def test_bench_measures_the_idle_server_and_judges_the_targets(bench_results):
    idle = bench_results["json"]["databases"]["sqlite"]["idle"]
    assert idle["seconds"] == 2 and idle["cpu_pct_of_core"] >= 0 and idle["wakeups_per_s"] > 0
    markdown = bench_results["markdown"]
    assert "### The issue's targets" in markdown
    target = next(line for line in markdown.splitlines()
                  if line.startswith("| idle CPU, whole server, 60 s without replies"))
    assert target.endswith(("| met |", "| **missed** |"))
