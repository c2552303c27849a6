"""The headline of a run: what the app costs as ratios to what the same machine measured in the same run.

Absolute figures move with the machine (the SDK floor alone measured 7 ms on one day and 18 ms on
another, on the same code); ratios measured side by side in one run do not. Each run's ratios are
kept in bench/results/ratios.json (committed, small), so the next run's report shows them beside
its own and a change shows as a change, on a fresh clone too.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .report import REFERENCE_LEVEL, added, capacity, floor_at

# The absolute targets were set on a quiet day whose SDK floor (mixed, 45 at once) was 7 ms;
# on a slower day they scale with this run's floor at REFERENCE_LEVEL.
REFERENCE_FLOOR_MS = 7.0
CPU_RATIO_LIMIT = 1.5
IDLE_CPU_LIMIT_PCT = 0.5
BURST_TTFT_LIMIT_MS = 1500.0  # added TTFT p50 at burst 500, at the reference floor
CAPACITY_LIMIT = 200  # steady capacity on SQLite, at the reference floor
SHOWN_LEVELS = (10, 25, 50, 100, 200)


def _shape(shapes: list[dict], size: int) -> dict | None:
    return next((s for s in shapes if s["size"] == size), None)


def _ttft_ratio(shape: dict | None) -> float | None:
    """Added TTFT p50 ÷ direct TTFT p50: what the app adds, as a share of the provider's own wait."""
    if shape is None or not shape["direct"]["ttft_p50"]:
        return None
    extra = added(shape["app"], shape["direct"], "ttft_p50")
    return None if extra is None else extra / shape["direct"]["ttft_p50"]


def _database_ratios(db: dict, floor: dict | None) -> dict:
    values: dict[str, float | int | None] = {}
    measured = (floor or {}).get("levels") or {}
    for shape in db["steady"]:
        if str(shape["size"]) in measured:  # only against the floor at the same concurrency
            values[f"cpu_L{shape['size']}"] = shape["cpu_ms_per_reply"] / measured[str(shape["size"])]["mix"]
    values["ttft_one"] = _ttft_ratio(_shape(db["burst"], 1))
    values["ttft_burst500"] = _ttft_ratio(_shape(db["burst"], 500))
    burst500 = _shape(db["burst"], 500)
    values["added_ttft_burst500_ms"] = added(burst500["app"], burst500["direct"], "ttft_p50") if burst500 else None
    level = capacity(db["steady"])
    values["capacity"] = level
    at_capacity = _shape(db["steady"], level) if level else None
    values["capacity_in_flight"] = at_capacity["in_flight_app"] if at_capacity else None
    values["idle_cpu_pct"] = (db.get("idle") or {}).get("cpu_pct_of_core")
    return values


def of(results: dict) -> dict:
    """This run's ratios, in the form ratios.json keeps."""
    floor = results.get("floor")
    reference = floor_at(floor, REFERENCE_LEVEL)
    return {
        "run": results["started_at"], "load_at_start": round(results["load_at_start"], 1),
        "load_at_end": round(results["load_at_end"], 1),
        "floor_levels": {level: round(f["mix"], 2) for level, f in ((floor or {}).get("levels") or {}).items()},
        "reference_floor_ms": reference[1] if reference else None,
        "shapes": {"bursts": [s["size"] for s in next(iter(results["databases"].values()))["burst"]],
                   "levels": [s["size"] for s in next(iter(results["databases"].values()))["steady"]]},
        "databases": {name: _database_ratios(db, floor) for name, db in results["databases"].items()},
    }


def load(path: Path) -> dict | None:
    """The ratios a previous run kept, or None."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def save(path: Path, ratios: dict) -> None:
    """Keep this run's ratios for the next run's report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ratios, indent=1, sort_keys=True) + "\n")


# --- the report's tables -------------------------------------------------------------

def _cell(key: str, value) -> str:
    if value is None:
        return "–"
    if key == "capacity":
        return f"L = {value}" if value else "none"
    if key == "idle_cpu_pct":
        return f"{value:.2f} %"
    if key.endswith("_ms"):
        return f"{value:,.0f} ms"
    return f"{value:.2f}×"


ROWS = [
    *((f"cpu_L{level}", f"app CPU per reply ÷ SDK floor, steady L = {level}") for level in SHOWN_LEVELS),
    ("ttft_one", "added TTFT p50 ÷ direct TTFT p50, one chat"),
    ("ttft_burst500", "added TTFT p50 ÷ direct TTFT p50, burst 500"),
    ("capacity", "steady capacity (chats in flight; fake and client on the same cores)"),
    ("idle_cpu_pct", "idle CPU, whole server, % of one core"),
]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def ratio_table(now: dict, previous: dict | None) -> list[str]:
    """Every ratio per database, this run beside the previous run's; rows neither run measured are left out."""
    names = list(now["databases"])
    before = (previous or {}).get("databases", {})
    head = ["figure", *(column for name in names for column in (name, f"{name} before"))]
    rows = []
    for key, label in ROWS:
        pairs = [(now["databases"][n].get(key), before.get(n, {}).get(key)) for n in names]
        if any(value is not None for pair in pairs for value in pair):
            rows.append([label, *(_cell(key, value) for pair in pairs for value in pair)])
    return _table(head, rows)


def _scale(now: dict) -> float | None:
    reference = now.get("reference_floor_ms")
    return reference / REFERENCE_FLOOR_MS if reference else None


def target_rows(now: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target of the issue the bench measures."""
    dbs, scale = now["databases"], _scale(now)
    rows = []

    def each(label, key, check):
        values = {name: db.get(key) for name, db in dbs.items()}
        measured = [v for v in values.values() if v is not None]
        text = ", ".join(f"{name} {_cell(key, v)}" for name, v in values.items())
        rows.append((label, text, all(check(v) for v in measured) if measured else None))

    each(f"CPU per reply ÷ SDK floor, steady L = 100 ≤ {CPU_RATIO_LIMIT}×", "cpu_L100", lambda v: v <= CPU_RATIO_LIMIT)
    each(f"the same at L = 25 ≤ {CPU_RATIO_LIMIT}×", "cpu_L25", lambda v: v <= CPU_RATIO_LIMIT)
    each(f"idle CPU, whole server, 60 s without replies ≤ {IDLE_CPU_LIMIT_PCT} % of one core", "idle_cpu_pct",
         lambda v: v <= IDLE_CPU_LIMIT_PCT)
    if "sqlite" in dbs and "postgresql" in dbs:
        sqlite, postgresql = dbs["sqlite"]["capacity"], dbs["postgresql"]["capacity"]
        met = None if sqlite is None or postgresql is None else postgresql >= sqlite
        rows.append(("steady capacity, PostgreSQL ≥ SQLite's in the same run",
                     f"postgresql {_cell('capacity', postgresql)}, sqlite {_cell('capacity', sqlite)}", met))
    if scale is not None:
        limit = BURST_TTFT_LIMIT_MS * scale
        each(f"added TTFT p50, burst 500 ≤ 1.5 s at a 7 ms floor, scaled (≤ {limit / 1000:.2f} s this run)",
             "added_ttft_burst500_ms", lambda v: v <= limit)
        least = math.ceil(CAPACITY_LIMIT / scale)
        if "sqlite" in dbs:
            value = dbs["sqlite"]["capacity"]
            rows.append((f"steady capacity, SQLite ≥ 200 at a 7 ms floor, scaled (≥ {least} this run)",
                         f"sqlite {_cell('capacity', value)}", None if value is None else value >= least))
    return rows


def targets_table(now: dict) -> list[str]:
    """The issue's targets, met or missed in this run."""
    verdict = {None: "–", True: "met", False: "**missed**"}
    return _table(["target", "measured", "verdict"],
                  [[label, measured, verdict[met]] for label, measured, met in target_rows(now)])


def _by_level(ratios: dict) -> list[tuple[str, float]]:
    return sorted((ratios.get("floor_levels") or {}).items(), key=lambda item: int(item[0]))


def render(now: dict, previous: dict | None) -> list[str]:
    """The ratios section of the report."""
    floors = ", ".join(f"{level} at once {mix:.1f} ms" for level, mix in _by_level(now)) or "not measured"
    if previous:
        earlier = ", ".join(f"{mix:.1f} ms at {level}" for level, mix in _by_level(previous))
        shapes = previous.get("shapes") or {}
        before = (f"*before*: the run of {previous.get('run', '?')} (load average "
                  f"{previous.get('load_at_start', '?')} at its start, {previous.get('load_at_end', '?')} at its end; "
                  f"SDK floor {earlier or 'not measured'}; bursts {shapes.get('bursts', '?')}, "
                  f"levels {shapes.get('levels', '?')}).")
    else:
        before = "*before*: no previous run kept."
    return [
        "## Ratios: the headline", "",
        "Each figure against what the same machine measured in the same run, so the figures of two runs compare "
        "even when the machine does not. CPU per reply ÷ the SDK floor measured at the same concurrency "
        f"(mixed evenly; {floors}); added TTFT ÷ the TTFT straight from the fake; capacity as chats in flight. "
        + before, "",
        *ratio_table(now, previous), "",
        "### The issue's targets (ratios and scaled figures)", "",
        *targets_table(now), "",
        "Several servers migrating one database at once is checked by `tests/test_concurrent_migrations.py`, "
        "not by the bench.", "",
    ]
