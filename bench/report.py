"""Statistics over chats and the Markdown report: one table per load shape, then the rest."""
from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Iterable

from .load import Chat

ADDED_TTFT_P95_LIMIT_MS = 100.0
REFERENCE_LEVEL = 50  # the concurrency whose SDK floor stands for the machine (45 at once in earlier runs)
TARGETS = {  # the targets, in the units the report prints
    "added_ttft_p50_one_ms": 5.0, "added_ttft_p50_burst500_ms": 1500.0, "capacity": 200,
    "cpu_ms_per_reply": 10.0, "idle_pss_mb": 200.0, "peak_pss_burst500_mb": 400.0, "startup_s": 3.0,
    "prod_env_mb": 300.0, "page_p50_ms": 50.0,
}


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linearly interpolated; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(chats: list[Chat]) -> dict:
    """TTFT and reply-time percentiles (in ms) of the chats that succeeded, and what went wrong in the rest."""
    ok = [c for c in chats if c.error is None]
    ttfts = [c.ttft * 1000 for c in ok if c.ttft is not None]
    totals = [c.total * 1000 for c in ok if c.total is not None]
    return {
        "chats": len(chats), "errors": len(chats) - len(ok),
        "error_kinds": dict(Counter(c.error for c in chats if c.error).most_common(5)),
        "routes": dict(Counter(c.route for c in chats)),
        "ttft_p50": percentile(ttfts, 50), "ttft_p95": percentile(ttfts, 95),
        "total_p50": percentile(totals, 50), "total_p95": percentile(totals, 95),
    }


def in_flight(chats: Iterable[Chat], start: float, end: float) -> float:
    """The mean number of chats open between `start` and `end` (seconds from the shape's start)."""
    open_seconds = sum(max(0.0, min(c.due + (c.total or 0.0), end) - max(c.due, start)) for c in chats)
    return open_seconds / (end - start)


def added(app: dict, direct: dict, key: str) -> float | None:
    """What the app adds to a time: through the app minus straight to the provider."""
    if app[key] is None or direct[key] is None:
        return None
    return app[key] - direct[key]


def floor_at(floor: dict | None, level: int) -> tuple[int, float] | None:
    """(the concurrency the SDK floor was measured at nearest to `level`, the providers' mixed floor there)."""
    levels = (floor or {}).get("levels") or {}
    if not levels:
        return None
    nearest = min(levels, key=lambda measured: abs(math.log(int(measured)) - math.log(max(level, 1))))
    return int(nearest), levels[nearest]["mix"]


def ms_text(value: float | None) -> str:
    """Milliseconds for a table cell: whole above 100, one decimal below; – for none."""
    return "–" if value is None else f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _pair(a: float | None, b: float | None) -> str:
    return f"{ms_text(a)} / {ms_text(b)}"


def _stored(shape: dict) -> str:
    stored = shape["stored"]
    text = f"{stored['complete']}/{shape['app']['chats']}"
    others = {k: v for k, v in stored.items() if k not in ("replies", "complete")}
    return text + (f" ({', '.join(f'{v} {k}' for k, v in others.items())})" if others else "")


def _cpu(shape: dict, floor: dict | None) -> str:
    cpu, at = shape["cpu_ms_per_reply"], floor_at(floor, shape["size"])
    own = f" ({cpu - at[1]:.1f})" if at is not None else ""
    return f"{cpu:.1f}{own}"


def _common_cells(shape: dict, floor: dict | None) -> list[str]:
    app, direct = shape["app"], shape["direct"]
    return [
        _pair(direct["ttft_p50"], direct["ttft_p95"]), _pair(app["ttft_p50"], app["ttft_p95"]),
        _pair(added(app, direct, "ttft_p50"), added(app, direct, "ttft_p95")),
        ms_text(added(app, direct, "total_p50")),
        str(app["errors"]) + (f" (direct {direct['errors']})" if direct["errors"] else ""),
        _stored(shape), _cpu(shape, floor), f"{shape['peak_pss_mib']:.0f}", f"{shape['other_cores']:.2f}",
    ]


COMMON_HEAD = ["TTFT direct p50 / p95", "TTFT app p50 / p95", "added p50 / p95", "added reply p50", "errors",
               "stored complete", "CPU ms/reply (own)", "peak PSS MB", "other CPU"]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def burst_table(results: dict) -> list[str]:
    """One row per database and burst size."""
    rows = [[db, str(s["size"]), *_common_cells(s, results.get("floor"))]
            for db, r in results["databases"].items() for s in r["burst"]]
    return _table(["DB", "N", *COMMON_HEAD], rows)


def steady_table(results: dict) -> list[str]:
    """One row per database and steady level, with the arrival rate and the concurrency measured."""
    rows = [[db, str(s["size"]), f"{s['rate']:.0f}", f"{s['in_flight_app']:.0f} ({s['in_flight_direct']:.0f})",
             *_common_cells(s, results.get("floor"))]
            for db, r in results["databases"].items() for s in r["steady"]]
    return _table(["DB", "L", "arrivals/s", "in flight app (direct)", *COMMON_HEAD], rows)


def capacity(steady: list[dict]) -> int | None:
    """The highest L with no error, every reply stored complete and added TTFT p95 within the limit.

    0 when no level passes, None when no steady level ran.
    """
    if not steady:
        return None
    return max((s["size"] for s in steady if passes(s)), default=0)


def passes(shape: dict) -> bool:
    """Whether a steady level counts towards the capacity."""
    added_p95 = added(shape["app"], shape["direct"], "ttft_p95")
    return (shape["app"]["errors"] == 0 and shape["stored"]["complete"] == shape["app"]["chats"]
            and added_p95 is not None and added_p95 <= ADDED_TTFT_P95_LIMIT_MS)


def _shape(shapes: list[dict], size: int) -> dict | None:
    return next((s for s in shapes if s["size"] == size), None)


def overall_cpu_ms(db: dict) -> float | None:
    """App CPU per reply over every burst and steady shape of one database."""
    shapes = db["burst"] + db["steady"]
    replies = sum(s["app"]["chats"] for s in shapes)
    return sum(s["cpu_ms_per_reply"] * s["app"]["chats"] for s in shapes) / replies if replies else None


def target_rows(results: dict) -> list[tuple[str, str, dict[str, float | None], Callable]]:
    """(target, how it is read, {db: measured}, check) for every target of the issue."""
    dbs = results["databases"]

    def per_db(read) -> dict:
        values = {}
        for name, db in dbs.items():
            try:
                values[name] = read(db)
            except (TypeError, KeyError):
                values[name] = None
        return values

    def burst(size, read):
        return per_db(lambda db: read(_shape(db["burst"], size)))

    return [
        ("burst 500: 0 errors", "errors", burst(500, lambda s: s["app"]["errors"]), lambda v: v == 0),
        ("burst 500: 500/500 stored complete", "complete", burst(500, lambda s: s["stored"]["complete"]),
         lambda v: v == 500),
        ("added TTFT p50, one chat ≤ 5 ms", "ms", burst(1, lambda s: added(s["app"], s["direct"], "ttft_p50")),
         lambda v: v <= TARGETS["added_ttft_p50_one_ms"]),
        ("added TTFT p50, burst 500 ≤ 1.5 s", "ms",
         burst(500, lambda s: added(s["app"], s["direct"], "ttft_p50")),
         lambda v: v <= TARGETS["added_ttft_p50_burst500_ms"]),
        ("steady capacity ≥ 200", "L", per_db(lambda db: capacity(db["steady"])),
         lambda v: v >= TARGETS["capacity"]),
        ("CPU per reply, providers mixed ≤ 10 ms", "ms", per_db(overall_cpu_ms),
         lambda v: v <= TARGETS["cpu_ms_per_reply"]),
        ("PSS idle ≤ 200 MB", "MB", per_db(lambda db: db["idle_pss_mib"]), lambda v: v <= TARGETS["idle_pss_mb"]),
        ("PSS peak at burst 500 ≤ 400 MB", "MB", burst(500, lambda s: s["peak_pss_mib"]),
         lambda v: v <= TARGETS["peak_pss_burst500_mb"]),
        ("start-up ≤ 3 s", "s", per_db(lambda db: db["startup_s"]), lambda v: v <= TARGETS["startup_s"]),
        ("prod env ≤ 300 MB", "MB", {name: results.get("prod_env_mb") for name in dbs},
         lambda v: v <= TARGETS["prod_env_mb"]),
        ("thread page, 10,000 messages, p50 ≤ 50 ms", "ms", per_db(lambda db: db["pages"]["thread_p50"]),
         lambda v: v <= TARGETS["page_p50_ms"]),
        ("project page, 5,000 threads, p50 ≤ 50 ms", "ms", per_db(lambda db: db["pages"]["project_p50"]),
         lambda v: v <= TARGETS["page_p50_ms"]),
        ("thread page, 10,000 messages over 1,000 branches, p50 ≤ 50 ms", "ms",
         per_db(lambda db: db["pages"]["branched_p50"]), lambda v: v <= TARGETS["page_p50_ms"]),
    ]


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value:.2f} s"
    if unit in ("ms", "MB"):
        return f"{ms_text(value)} {unit}"
    if unit == "L":
        return f"L = {value}" if value else "none"
    return str(value)


def targets_table(results: dict) -> list[str]:
    """Every target with the figure measured on each database and whether all of them meet it."""
    names = list(results["databases"])
    rows = []
    for target, unit, values, check in target_rows(results):
        measured = [v for v in values.values() if v is not None]
        verdict = "–" if not measured else "met" if all(check(v) for v in measured) else "**missed**"
        rows.append([target, *(_value(values[n], unit) for n in names), verdict])
    return _table(["target", *names, "verdict"], rows)


def _page_cell(db: dict, page: str) -> str:
    pages = db.get("pages")
    if not pages or f"{page}_p50" not in pages:  # a report from before that page was measured
        return "–"
    return _pair(pages[f"{page}_p50"], pages[f"{page}_p95"]) + " ms"


def other_table(results: dict) -> list[str]:
    """Start-up, idle memory, page renders and CPU per reply, per database."""
    dbs = results["databases"].values()
    at = floor_at(results.get("floor"), REFERENCE_LEVEL)
    floor_mix = at[1] if at else None

    def cpu(db: dict) -> str:
        value = overall_cpu_ms(db)
        if value is None:
            return "–"
        return f"{value:.1f} ms" + (f" ({value - floor_mix:.1f} ms own)" if floor_mix is not None else "")

    rows = [
        ["start-up: production command → first answered request", *(_value(d["startup_s"], "s") for d in dbs)],
        ["idle PSS after start-up (master + workers)", *(_value(d["idle_pss_mib"], "MB") for d in dbs)],
        ["thread page with 10,000 messages, p50 / p95", *(_page_cell(d, "thread") for d in dbs)],
        ["project page with 5,000 threads, p50 / p95", *(_page_cell(d, "project") for d in dbs)],
        ["thread page with 10,000 messages over 1,000 branches, p50 / p95", *(_page_cell(d, "branched") for d in dbs)],
        ["app CPU per reply over every shape (own: minus the SDK floor at "
         f"{at[0] if at else REFERENCE_LEVEL} at once)", *(cpu(d) for d in dbs)],
        ["idle CPU, whole server, no replies (% of one core; wake-ups/s)", *(_idle_cell(d) for d in dbs)],
    ]
    return _table(["measure", *results["databases"]], rows)


def _idle_cell(db: dict) -> str:
    idle = db.get("idle")
    if not idle:
        return "–"
    return f"{idle['cpu_pct_of_core']:.2f} % over {idle['seconds']:g} s; {idle['wakeups_per_s']:.1f}/s"


def floor_table(results: dict) -> list[str]:
    """The SDK floor per concurrency: each provider and the even mix."""
    levels = (results.get("floor") or {}).get("levels")
    if not levels:
        return ["SDK floor: not measured."]
    names = ("anthropic", "google", "deepseek")
    rows = [[str(level), *(f"{f[name]:.1f}" for name in names), f"**{f['mix']:.1f}**"] for level, f in levels.items()]
    return ["SDK floor (CPU ms per reply of each SDK alone, in one gevent process, same run), by replies at once:",
            "", *_table(["at once", *names, "mixed"], rows)]


def render(results: dict, headline: list[str]) -> str:
    """The whole report as Markdown, `headline` (the ratios) first."""
    config = results["config"]
    lines = [
        "# Benchmark results", "",
        f"Run {results['started_at']} on {results['host']}, {results['wall_seconds']:.0f} s in all; load average "
        f"{results['load_at_start']:.1f} at the start, {results['load_at_end']:.1f} at the end. *other CPU*: cores "
        "kept busy, while the app was driven, by anything but the app, the fake and the client (PostgreSQL's "
        "server included) — other work on the machine competing for its 2 cores.", "",
        f"- App: `{config['command']}` ({config['workers']}); **rate limits off** "
        f"(`RATELIMIT_ENABLED=false`); `DATABASE_POOL_SIZE` {config['pool_size'] or 'unset (the app default, 20)'}.",
        f"- Provider workload (fake, standalone process): {config['workload']}; providers mixed evenly; "
        f"{config['htmx_share']} of the chats through the htmx endpoint, the rest through the JSON API (SSE).",
        f"- Client: {config['client']}. Steady: {config['steady_warmup']:g} s warm-up, then "
        f"{config['steady_measure']:g} s measured.",
        "- Times in ms. *added* = through the app minus straight to the fake, same load, same run. "
        "*CPU ms/reply*: utime+stime of the gunicorn master and workers over the shape ÷ chats; "
        "in brackets the app's own share (minus the SDK floor at the nearest concurrency measured).",
        "", *headline, f"## Burst: N chats started at the same instant", "",
        "N = 1 is 20 chats one after another (one in flight at a time), so its p50 is a median.", "",
        *burst_table(results), "",
        "## Steady: open-loop arrivals, about L in flight", "",
        "Capacity (highest L with 0 errors, every reply stored complete and added TTFT p95 ≤ 100 ms): "
        + ", ".join(f"{db} **{_value(capacity(r['steady']), 'L')}**" for db, r in results["databases"].items())
        + ".", "",
        *steady_table(results), "",
        "## Separately", "",
        *floor_table(results), "",
        f"Production environment (a venv from requirements.txt only, `du`): "
        f"{_value(results.get('prod_env_mb'), 'MB')}.", "",
        *other_table(results), "",
        "## Absolute targets (of the issue that built the bench; the ratios above are the headline)", "",
        *targets_table(results), "",
    ]
    problems = {db: r.get("problems") for db, r in results["databases"].items() if r.get("problems")}
    errors = {f"{db} {kind} {s['size']}": s["app"]["error_kinds"] for db, r in results["databases"].items()
              for kind in ("burst", "steady") for s in r[kind] if s["app"]["error_kinds"]}
    if problems or errors:
        lines += ["## Errors", ""]
        lines += [f"- {where}: " + "; ".join(f"{n}× {k}" for k, n in kinds.items()) for where, kinds in errors.items()]
        lines += [f"- {db} app log: " + "; ".join(items) for db, items in problems.items()]
        lines.append("")
    return "\n".join(lines)
