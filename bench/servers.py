"""The processes a run drives: the standalone fake provider, a database, and the app under gunicorn."""
from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from . import procs

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PROVIDER_KEY = "sk-bench"
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-1234"
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Timeout)\w*(: .*)?$")


@dataclass(frozen=True)
class Workload:
    """What the fake provider does for every reply."""

    first_token_delay: float = 0.2
    tokens: int = 50
    token_delay: float = 0.036

    @property
    def reply_seconds(self) -> float:
        """How long one reply streams at the source: first token, then the rest."""
        return self.first_token_delay + (self.tokens - 1) * self.token_delay


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 40.0) -> None:
    """SIGTERM, wait, then SIGKILL: only the process we started (gunicorn's master stops its workers)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class FakeProvider:
    """`python -m tests.fake_provider` in its own process, as the spec's standalone fake."""

    def __init__(self, workload: Workload, log_path: Path):
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_provider", "--port", "0",
             "--first-token-delay", str(workload.first_token_delay), "--tokens", str(workload.tokens),
             "--token-delay", str(workload.token_delay)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the fake provider did not start: {line!r}; see {log_path}")
        self.base_url = line.removeprefix("listening on ")

    def stop(self) -> None:
        """Stop the fake (SIGTERM) and close its log."""
        stop_process(self.process, timeout=10)
        self._log.close()


class Database:
    """A database of its own for one run: a fresh SQLite file, or a PostgreSQL database created and dropped."""

    def __init__(self, dialect: str, url: str, admin_url: str | None = None):
        self.dialect, self.url, self._admin_url = dialect, url, admin_url
        self.engine = None

    @classmethod
    def sqlite(cls, workdir: Path) -> Database:
        """A new SQLite file in `workdir`."""
        return cls("sqlite", f"sqlite:///{workdir / 'bench.sqlite3'}")

    @classmethod
    def postgresql(cls, server_url: str) -> Database:
        """A database named bench_<pid> on the server; the bench drops it at the end."""
        name = f"bench_{os.getpid()}"
        admin = make_url(server_url).set(database="postgres")
        database = cls("postgresql", make_url(server_url).set(database=name).render_as_string(False),
                       admin.render_as_string(False))
        with database._admin() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return database

    def _admin(self):
        engine = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        return engine.connect()

    def connect(self):
        """The bench's own engine on this database (for seeding and checks)."""
        if self.engine is None:
            self.engine = create_engine(self.url)
        return self.engine

    def drop(self) -> None:
        """Drop the PostgreSQL database, or delete the SQLite files."""
        if self.engine is not None:
            self.engine.dispose()
        name = make_url(self.url).database
        if self.dialect == "postgresql":
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)


def postgres_reachable(server_url: str) -> bool:
    """Whether the PostgreSQL server answers at all."""
    try:
        engine = create_engine(make_url(server_url).set(database="postgres"))
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def app_env(database: Database, fake_base_url: str, pool_size: int | None) -> dict[str, str]:
    """The environment the app runs with: production mode, the fake for every provider, no rate limits."""
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database.url,
        "RATELIMIT_ENABLED": "false",
        "ANTHROPIC_API_KEY": PROVIDER_KEY, "GEMINI_API_KEY": PROVIDER_KEY, "DEEPSEEK_API_KEY": PROVIDER_KEY,
        "ANTHROPIC_BASE_URL": fake_base_url, "GOOGLE_GEMINI_BASE_URL": fake_base_url,
        "DEEPSEEK_BASE_URL": fake_base_url,
    }
    env.pop("DATABASE_POOL_SIZE", None)
    if pool_size:
        env["DATABASE_POOL_SIZE"] = str(pool_size)
    return env


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask --app wsgi ARGS` as the README says; its output."""
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def prepare_database(env: dict[str, str]) -> str:
    """Migrate, create the bench user and return a fresh bearer token."""
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "users", "create", BENCH_EMAIL, "--password", BENCH_PASSWORD)
    return flask_cli(env, "tokens", "create", BENCH_EMAIL).strip().splitlines()[-1]


class App:
    """The app under the production command: gunicorn with gunicorn.conf.py, bound to a free port."""

    def __init__(self, env: dict[str, str], token: str, log_path: Path, extra_args: list[str]):
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"{HOST}:{self.port}",
                        *extra_args, "wsgi:app"]
        self.log_path = log_path
        self._log = open(log_path, "w")
        self._token = token
        started = time.monotonic()
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self._wait_for_first_answer()
        self.startup_seconds = time.monotonic() - started

    @property
    def pid(self) -> int:
        """The master's process id."""
        return self.process.pid

    def _wait_for_first_answer(self, timeout: float = 60.0) -> None:
        """Poll until a request gets its answer: GET /api/providers with the bearer token."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                conn.request("GET", "/api/providers", headers={"Authorization": f"Bearer {self._token}"})
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.01)
            finally:
                conn.close()
        raise RuntimeError(f"gunicorn did not answer within {timeout:g} s; see {self.log_path}")

    def workers(self) -> list[int]:
        """The worker processes' ids."""
        return procs.children(self.pid)

    def stop(self) -> None:
        """Stop gunicorn gracefully (its master stops the workers) and close the log."""
        stop_process(self.process)
        self._log.close()

    def log_problems(self, limit: int = 12) -> list[str]:
        """Distinct problems in the app's log: exception lines and gunicorn's ERROR/CRITICAL records."""
        seen: dict[str, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            if EXCEPTION_LINE.match(line) or "[ERROR]" in line or "[CRITICAL]" in line:
                key = re.sub(r"^\[[^]]*\] \[\d+\] ", "", line)[:200]
                seen[key] = seen.get(key, 0) + 1
        return [f"{count}× {line}" for line, count in list(seen.items())[:limit]]
