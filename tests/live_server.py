"""Start the app under its real server (gunicorn with gevent workers) for tests that need one.

Flask's test client shows neither buffering nor concurrency, so streaming, stop and the
many-replies tests run against this.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One gunicorn instance of the app; several can share a database, like app servers behind a balancer."""

    def __init__(self, env: dict[str, str], workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gunicorn-{self.port}.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "wsgi:app"],
            cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            try:
                if httpx2.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def terminate(self, timeout: float = 40) -> int:
        """Graceful stop (SIGTERM to the master), waiting for it to exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """Kill the master and its workers at once, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()


def server_env(database_url: str, provider_url: str, **extra) -> dict[str, str]:
    """The environment of a test server: its database, the fake provider and short timings."""
    from tests.conftest import FAKE_KEY, TEST_SECRET

    env = {
        "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "APP_ENV": "development",
        "ANTHROPIC_API_KEY": FAKE_KEY, "GEMINI_API_KEY": FAKE_KEY, "DEEPSEEK_API_KEY": FAKE_KEY,
        "ANTHROPIC_BASE_URL": provider_url, "GOOGLE_GEMINI_BASE_URL": provider_url,
        "DEEPSEEK_BASE_URL": provider_url, "PROVIDER_TIMEOUT_SECONDS": "30",
        "SSE_HEARTBEAT_SECONDS": "0.5", "REPLY_HEARTBEAT_SECONDS": "0.5", "REPLY_STALE_SECONDS": "3",
        "RATELIMIT_ENABLED": "false", "AUTO_TITLES": "false",
        # Idle keep-alive connections hold a graceful stop back; tests stop servers often.
        "GUNICORN_CMD_ARGS": "--keep-alive 1",
    }
    return {**env, **{k: str(v) for k, v in extra.items()}}


def csrf_of(html: str) -> str:
    """The CSRF token a page carries for htmx."""
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
