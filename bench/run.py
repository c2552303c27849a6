"""`make bench`: the fake provider and the app under its production command, driven on SQLite and PostgreSQL.

Prints the report and writes it to bench/results/latest.md (the raw figures to latest.json, the
ratios to ratios.json, which the next run shows beside its own). `python -m bench.run --help`
lists the knobs; bench/README.md explains the columns.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from . import load, procs, ratios, report, seed
from .servers import (
    BENCH_EMAIL, BENCH_PASSWORD, PROVIDER_KEY, ROOT, App, Database, FakeProvider, Workload, app_env,
    postgres_reachable, prepare_database,
)

RESULTS = ROOT / "bench" / "results"
PROD_ENV = ROOT / ".venv" / "bench-prod-env"  # inside .venv: ignored by git, removed by `make clean`
CSRF_INPUT = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
PAUSE_SECONDS = 1.0
PAGE_SAMPLES, PAGE_WARM_UP = 30, 3
SINGLE_CHAT_REPEATS = 20  # a burst of 1 is this many chats one after another, so its p50 is a median
WARM_UP_CHATS = 24  # before the shapes: every worker has its SDK clients, connections and templates ready


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; the defaults are the full benchmark of the issue."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"),
        help="the server; the bench creates and drops its own database bench_<pid> there")
    parser.add_argument("--bursts", type=_ints, default=[1, 50, 200, 500], help="burst sizes N")
    parser.add_argument("--levels", type=_ints, default=[10, 25, 50, 100, 200, 300, 400, 500],
                        help="steady levels L")
    parser.add_argument("--floor-levels", type=_ints, default=list(ratios.SHOWN_LEVELS),
                        help="concurrencies the SDK floor is measured at (CPU ÷ floor is shown at these L)")
    parser.add_argument("--idle-seconds", type=float, default=60.0,
                        help="how long the idle server's CPU is measured (0: not at all)")
    parser.add_argument("--warmup", type=float, default=3.0, help="steady warm-up seconds")
    parser.add_argument("--measure", type=float, default=10.0, help="steady seconds measured after the warm-up")
    parser.add_argument("--htmx-every", type=int, default=10, help="every n-th chat goes through htmx (0: none)")
    parser.add_argument("--pool-size", type=int, help="DATABASE_POOL_SIZE for the app (default: unset, the app's own default)")
    parser.add_argument("--gunicorn-arg", action="append", default=[],
                        help="extra argument for the production command, e.g. --gunicorn-arg=--workers=1")
    parser.add_argument("--no-floor", action="store_true", help="skip the SDK floor")
    parser.add_argument("--no-env-size", action="store_true", help="skip the production environment's size")
    parser.add_argument("--no-pages", action="store_true", help="skip the page render times")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.md")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--ratios", type=Path, default=RESULTS / "ratios.json",
                        help="the previous run's ratios, read first and then replaced by this run's")
    return parser.parse_args(argv)


@dataclass
class DatabaseRun:
    """One database's run: the app serving it and what the load needs to reach it."""

    args: argparse.Namespace
    workload: Workload
    fake: FakeProvider
    database: Database
    app: App
    token: str
    cookie: str
    csrf_token: str
    owner: int


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the report."""
    print(message, file=sys.stderr, flush=True)


# --- driving the load ---------------------------------------------------------------

def _drive(make_target, kind: str, size: int, rate: float, seconds: float) -> list[load.Chat]:
    """Run one shape against the target `make_target` builds on a fresh client session."""
    async def go():
        async with load.new_session() as session:
            target = make_target(session)
            if kind == "burst" and size == 1:
                return await load.one_at_a_time(target, SINGLE_CHAT_REPEATS)
            if kind == "burst":
                return await load.burst(target, size)
            return await load.steady(target, rate, seconds)

    return asyncio.run(go())


def _summary(chats: list[load.Chat], start: float, end: float) -> dict:
    """Errors over every chat of the shape; times over the chats due in the measured window."""
    every = report.summarize(chats)
    summary = report.summarize([c for c in chats if start <= c.due < end])
    summary.update({key: every[key] for key in ("chats", "errors", "error_kinds", "routes")})
    return summary


def run_shape(s: DatabaseRun, kind: str, size: int) -> dict:
    """One shape at one size: straight to the fake, then through the app, then what the app stored."""
    args = s.args
    rate = size / s.workload.reply_seconds
    seconds = args.warmup + args.measure
    count = (SINGLE_CHAT_REPEATS if size == 1 else size) if kind == "burst" else int(rate * seconds)
    window = (0.0, float("inf")) if kind == "burst" else (args.warmup, seconds)
    project_id, thread_ids = seed.chat_threads(s.database.connect(), s.owner, f"Bench {kind} {size}", count)

    direct = _drive(lambda session: load.DirectTarget(session, s.fake.base_url, PROVIDER_KEY),
                    kind, size, rate, seconds)
    time.sleep(PAUSE_SECONDS)
    chats, result = _through_app(s, lambda: _drive(
        lambda session: load.AppTarget(session, s.app.base_url, s.token, s.cookie, s.csrf_token, thread_ids,
                                       args.htmx_every), kind, size, rate, seconds), project_id)
    result.update(kind=kind, size=size, rate=rate, direct=_summary(direct, *window), app=_summary(chats, *window))
    if kind == "steady":
        result["in_flight_app"] = report.in_flight(chats, *window)
        result["in_flight_direct"] = report.in_flight(direct, *window)
    _progress(s.database.dialect, result)
    time.sleep(PAUSE_SECONDS)
    return result


def _through_app(s: DatabaseRun, drive, project_id: int) -> tuple[list[load.Chat], dict]:
    """Drive the app and wait until its replies are stored, measuring CPU and memory meanwhile."""
    fake = [s.fake.process.pid]
    app_before, fake_before = procs.cpu_ticks(procs.tree(s.app.pid)), procs.cpu_ticks(fake)
    machine_before, client_before, started = procs.machine_busy_seconds(), time.process_time(), time.monotonic()
    with procs.PeakPss(s.app.pid) as peak:
        chats = drive()
        stored = seed.stored_replies(s.database.connect(), project_id, s.workload.tokens)
    app_after = procs.cpu_ticks(procs.tree(s.app.pid))
    app_cpu = procs.cpu_seconds_between(app_before, app_after)
    client_cpu = time.process_time() - client_before
    others = (procs.machine_busy_seconds() - machine_before - app_cpu - client_cpu
              - procs.cpu_seconds_between(fake_before, procs.cpu_ticks(fake)))
    return chats, {
        "stored": stored, "cpu_ms_per_reply": app_cpu * 1000 / len(chats),
        "client_cpu_ms_per_reply": client_cpu * 1000 / len(chats), "peak_pss_mib": peak.peak_mib,
        "workers_changed": set(app_before) != set(app_after),
        # Cores kept busy by anything but the app, the fake and this client (PostgreSQL's server included).
        "other_cores": others / (time.monotonic() - started),
    }


def _progress(dialect: str, r: dict) -> None:
    app, direct = r["app"], r["direct"]
    log(f"  {dialect} {r['kind']} {r['size']}: TTFT p50 direct {report.ms_text(direct['ttft_p50'])} "
        f"app {report.ms_text(app['ttft_p50'])}, p95 added {report.ms_text(report.added(app, direct, 'ttft_p95'))} ms; "
        f"errors {app['errors']}; stored {r['stored']}; CPU {r['cpu_ms_per_reply']:.1f} ms/reply; "
        f"peak PSS {r['peak_pss_mib']:.0f} MB" + ("; a worker restarted" if r["workers_changed"] else ""))


def warm_up(s: DatabaseRun) -> None:
    """One burst of chats of every provider through both routes, so each worker is warm; not counted."""
    _, thread_ids = seed.chat_threads(s.database.connect(), s.owner, "Bench warm-up", WARM_UP_CHATS)
    chats = _drive(lambda session: load.AppTarget(session, s.app.base_url, s.token, s.cookie, s.csrf_token,
                                                  thread_ids, htmx_every=4), "burst", WARM_UP_CHATS, 0, 0)
    if any(chat.error for chat in chats):
        log(f"  warm-up errors: {[chat.error for chat in chats if chat.error]}")


# --- pages and sessions ---------------------------------------------------------------

async def _sign_in(base_url: str) -> tuple[str, str]:
    """Log in through the form: (Cookie header, a CSRF token for the session's forms)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{base_url}/login") as response:
            token = CSRF_INPUT.search(await response.text()).group(1)
        form = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "csrf_token": token}
        async with session.post(f"{base_url}/login", data=form, allow_redirects=False) as response:
            if response.status != 303:
                raise RuntimeError(f"logging in answered {response.status}")
        async with session.get(f"{base_url}/") as response:
            token = CSRF_INPUT.search(await response.text()).group(1)
        return "; ".join(f"{c.key}={c.value}" for c in session.cookie_jar), token


async def _page_times(base_url: str, cookie: str, path: str) -> list[float]:
    """Milliseconds to fetch a page whole, one request after another."""
    times = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        for index in range(PAGE_WARM_UP + PAGE_SAMPLES):
            started = time.perf_counter()
            async with session.get(base_url + path, headers={"Cookie": cookie}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path} answered {response.status}")
            if index >= PAGE_WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
    return times


def page_renders(s: DatabaseRun) -> dict:
    """Render times of the thread page with 10,000 messages (in one branch, and over 1,000) and the project page."""
    project_id, thread_id = seed.page_fixtures(s.database.connect(), s.owner)
    branched_id = seed.branched_thread(s.database.connect(), project_id)
    result = {}
    for name, path in (("thread", f"/threads/{thread_id}"), ("branched", f"/threads/{branched_id}"),
                       ("project", f"/projects/{project_id}")):
        times = asyncio.run(_page_times(s.app.base_url, s.cookie, path))
        result[f"{name}_p50"], result[f"{name}_p95"] = report.percentile(times, 50), report.percentile(times, 95)
    log(f"  {s.database.dialect} pages: {result}")
    return result


# --- one database ---------------------------------------------------------------------

def run_database(dialect: str, fake: FakeProvider, args, workload: Workload, workdir: Path) -> dict:
    """Set up a fresh database, start the app on it, and run every shape."""
    database = Database.sqlite(workdir) if dialect == "sqlite" else Database.postgresql(args.postgres_url)
    try:
        env = app_env(database, fake.base_url, args.pool_size)
        token = prepare_database(env)
        app = App(env, token, workdir / f"{dialect}-app.log", args.gunicorn_arg)
        try:
            return _run_app(dialect, fake, args, workload, database, app, token)
        finally:
            app.stop()
    finally:
        database.drop()


def _run_app(dialect, fake, args, workload, database, app, token) -> dict:
    log(f"{dialect}: the app answered {app.startup_seconds:.2f} s after its command")
    time.sleep(PAUSE_SECONDS)  # every worker booted and settled
    idle = procs.tree_pss_mib(app.pid)
    cookie, csrf_token = asyncio.run(_sign_in(app.base_url))
    s = DatabaseRun(args, workload, fake, database, app, token, cookie, csrf_token,
                seed.user_id(database.connect(), BENCH_EMAIL))
    result = {"startup_s": app.startup_seconds, "idle_pss_mib": idle, "workers": len(app.workers()),
              "command": " ".join([".venv/bin/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT",
                                   *args.gunicorn_arg, "wsgi:app"])}
    warm_up(s)
    result["idle"] = idle_cpu(app, args.idle_seconds) if args.idle_seconds > 0 else None
    result["burst"] = [run_shape(s, "burst", n) for n in args.bursts]
    result["steady"] = [run_shape(s, "steady", level) for level in args.levels]
    result["pages"] = None if args.no_pages else page_renders(s)
    result["problems"] = app.log_problems()
    result["log"] = str(app.log_path)
    return result


def idle_cpu(app: App, seconds: float) -> dict:
    """CPU of the master and workers while no reply runs, as % of one core, and how often they woke."""
    time.sleep(PAUSE_SECONDS)  # the warm-up's ticker and writer end within a tick of the last reply
    pids = procs.tree(app.pid)
    ticks, switches, started = procs.cpu_ticks(pids), procs.context_switches(pids), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    idle = {"seconds": seconds,
            "cpu_pct_of_core": procs.cpu_seconds_between(ticks, procs.cpu_ticks(pids)) * 100 / wall,
            "wakeups_per_s": procs.wakeups_between(switches, procs.context_switches(pids)) / wall}
    log(f"  idle: {idle}")
    return idle


# --- what does not need the app ------------------------------------------------------

def sdk_floor(base_url: str, levels: list[int]) -> dict:
    """CPU per reply of each SDK alone (bench.sdk_floor in its own process) at each concurrency, and the mix."""
    out = subprocess.run([sys.executable, "-m", "bench.sdk_floor", base_url,
                          "--concurrency", ",".join(map(str, levels))],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    floor = {"levels": {level: {**per, "mix": sum(per.values()) / len(per)} for level, per in measured.items()}}
    log(f"SDK floor: {floor}")
    return floor


def prod_env_mb() -> float:
    """`du` of a venv made from requirements.txt alone; rebuilt only when requirements.txt changes."""
    requirements = ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = PROD_ENV / ".requirements-sha256"
    if not (stamp.exists() and stamp.read_text() == digest):
        log("building the production environment from requirements.txt alone …")
        shutil.rmtree(PROD_ENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(PROD_ENV)], check=True)
        subprocess.run([str(PROD_ENV / "bin" / "pip"), "install", "-q", "-r", str(requirements)],
                       check=True, capture_output=True)
        stamp.write_text(digest)
    du = subprocess.run(["du", "-sk", str(PROD_ENV)], capture_output=True, text=True, check=True)
    return int(du.stdout.split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark; 0 once the report is written."""
    args = parse_args(argv)
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if "postgresql" in databases and not postgres_reachable(args.postgres_url):
        log(f"PostgreSQL does not answer at {args.postgres_url}; start it or pass --databases sqlite.")
        return 2
    started = time.monotonic()
    # Thousands of streams at once: one socket each in the client, and two in the app (client and provider).
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    workload = Workload()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    results = {
        "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{os.cpu_count()} cores",
        "load_at_start": os.getloadavg()[0],
        "floor": None, "prod_env_mb": None, "databases": {},
    }
    fake = FakeProvider(workload, workdir / "fake.log")
    try:
        if not args.no_floor:
            results["floor"] = sdk_floor(fake.base_url, args.floor_levels)
        if not args.no_env_size:
            results["prod_env_mb"] = prod_env_mb()
        for dialect in databases:
            results["databases"][dialect] = run_database(dialect, fake, args, workload, workdir)
    finally:
        fake.stop()
    first = next(iter(results["databases"].values()))
    results["config"] = {
        "command": first["command"],
        "workers": f"{first['workers']} gevent workers",
        "pool_size": args.pool_size,
        "workload": f"{workload.first_token_delay * 1000:.0f} ms to the first token, then {workload.tokens} tokens "
                    f"{workload.token_delay * 1000:.0f} ms apart ({workload.reply_seconds:.2f} s a reply)",
        "htmx_share": f"1 in {args.htmx_every}" if args.htmx_every else "none",
        "client": f"aiohttp {aiohttp.__version__}, one asyncio loop",
        "steady_warmup": args.warmup, "steady_measure": args.measure,
    }
    results["wall_seconds"] = time.monotonic() - started
    results["load_at_end"] = os.getloadavg()[0]
    previous, results["ratios"] = ratios.load(args.ratios), ratios.of(results)
    text = report.render(results, ratios.render(results["ratios"], previous))
    print(text)
    for path, content in ((args.output, text), (args.json, json.dumps(results, indent=1))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    ratios.save(args.ratios, results["ratios"])
    log(f"wrote {args.output}, {args.json} and {args.ratios}; app logs in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
