"""The bench's headline: ratios against the same run's floor and direct times, and the targets judged on them."""
from bench import ratios

# Nothing here touches the database or a server: plain figures in, report lines out.


def shape(size: int, cpu: float, direct_ttft: float, app_ttft: float, ok: bool = True) -> dict:
    """A shape's figures as bench.run records them."""
    times = {"ttft_p50": direct_ttft, "ttft_p95": direct_ttft, "chats": size, "errors": 0}
    app = {**times, "ttft_p50": app_ttft, "ttft_p95": app_ttft + (0 if ok else 500), "chats": size}
    return {"size": size, "cpu_ms_per_reply": cpu, "direct": times, "app": app, "stored": {"complete": size},
            "in_flight_app": size * 0.98}


def results(floor_at_50: float = 14.0) -> dict:
    """One run: the floor at 25, 50 and 100, SQLite passing up to L = 100, PostgreSQL up to 50."""
    return {
        "started_at": "2026-12-03 12:00 UTC", "load_at_start": 0.2, "load_at_end": 0.3,
        "floor": {"levels": {"25": {"mix": 12.0}, "50": {"mix": floor_at_50}, "100": {"mix": 10.0}}},
        "databases": {
            "sqlite": {"burst": [shape(500, 12.0, 200.0, 2000.0)], "idle": {"cpu_pct_of_core": 0.1},
                       "steady": [shape(25, 16.0, 200, 210), shape(100, 14.0, 200, 220),
                                  shape(200, 13.0, 200, 900, ok=False)]},
            "postgresql": {"burst": [shape(500, 16.0, 200.0, 4000.0)], "idle": {"cpu_pct_of_core": 0.7},
                           "steady": [shape(25, 20.0, 200, 210), shape(100, 16.0, 200, 900, False)]},
        },
    }


def verdicts(now: dict) -> dict[str, bool | None]:
    return {label.split(" ≤")[0].split(" ≥")[0]: met for label, _, met in ratios.target_rows(now)}


def test_cpu_is_divided_by_the_floor_at_the_same_concurrency_only():
    now = ratios.of(results())
    assert now["databases"]["sqlite"]["cpu_L25"] == 16.0 / 12.0
    assert now["databases"]["sqlite"]["cpu_L100"] == 14.0 / 10.0
    assert "cpu_L200" not in now["databases"]["sqlite"]  # no floor measured at 200


def test_the_targets_are_judged_on_this_runs_ratios_and_scaled_by_its_floor():
    now = ratios.of(results(floor_at_50=14.0))  # twice the 7 ms reference: 3 s at burst 500, capacity ≥ 100
    met = verdicts(now)
    assert met["CPU per reply ÷ SDK floor, steady L = 100"] is False  # PostgreSQL 1.6×
    assert met["the same at L = 25"] is False  # PostgreSQL 1.67×
    assert met["idle CPU, whole server, 60 s without replies"] is False  # PostgreSQL 0.7 %
    assert met["steady capacity, PostgreSQL"] is False  # 25 against 100
    assert met["added TTFT p50, burst 500"] is False  # PostgreSQL 3.8 s against 3.0 s
    assert met["steady capacity, SQLite"] is True  # 100 against 100
    assert ratios.of(results(floor_at_50=7.0))["databases"]["sqlite"]["capacity"] == 100
    assert verdicts(ratios.of(results(floor_at_50=7.0)))["steady capacity, SQLite"] is False  # 100 against 200


def test_the_previous_runs_ratios_stand_beside_this_runs():
    now, before = ratios.of(results()), ratios.of(results())
    before["run"], before["databases"]["sqlite"]["cpu_L25"] = "2026-11-01 09:00 UTC", 2.5
    lines = ratios.render(now, before)
    assert "the run of 2026-11-01 09:00 UTC" in lines[2]
    row = next(line for line in lines if line.startswith("| app CPU per reply ÷ SDK floor, steady L = 25 |"))
    assert row.split(" | ")[1:3] == ["1.33×", "2.50×"]
    assert "*before*: no previous run kept." in ratios.render(now, None)[2]
