"""Schemathesis against a live app: no server error and no answer the OpenAPI document does not allow.

The app runs under gunicorn on its own SQLite file, with the provider base URLs pointing at the
fake provider (which replies at once) and rate limits raised far above what the run sends.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY
from tests.live_server import ROOT, LiveServer, server_env

pytestmark = [pytest.mark.once, pytest.mark.server, pytest.mark.timeout(300)]

ST = Path(sys.executable).parent / "st"
FLASK = Path(sys.executable).parent / "flask"
CHECKS = [
    "not_a_server_error",            # no 5xx (the fake provider never fails here, so not even 502-504)
    "status_code_conformance",       # every status is one the operation documents
    "content_type_conformance",      # and comes with a documented media type
    "response_headers_conformance",  # documented headers are there (Retry-After on 429)
    "response_schema_conformance",   # bodies match their schemas
    "negative_data_rejection",       # data the document forbids is refused with a 4xx
    "ignored_auth",                  # without the token, every protected operation answers 401
    "use_after_free",                # a deleted resource stays gone
    "ensure_resource_availability",  # a created resource can be read back
]
PHASES = ["examples", "coverage", "fuzzing", "stateful"]
MAX_EXAMPLES = 100  # per operation and phase: about 2,000 requests in under half a minute
RUN_TIMEOUT = 240
# Unknown query parameters are ignored, as on the web at large, so none are sent as "invalid data".
CONFIG = """
[generation]
allow-extra-parameters = false
"""


def flask_cli(env: dict, *args: str) -> str:
    """Run a `flask --app wsgi` command in the server's environment; its output."""
    result = subprocess.run([str(FLASK), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def live_api(tmp_path, fake_provider):
    """A migrated SQLite app under gunicorn with one user, and that user's bearer token."""
    settings = server_env(
        f"sqlite:///{tmp_path / 'schemathesis.sqlite3'}", fake_provider.base_url,
        RATELIMIT_ENABLED="true", RATELIMIT_API_PER_TOKEN="100000 per minute",
        RATELIMIT_MESSAGES_PER_USER="100000 per minute",
    )
    env = {**os.environ, **settings}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "users", "create", "fuzz@example.com", "--password", "a long password")
    token = flask_cli(env, "tokens", "create", "fuzz@example.com", "--name", "schemathesis").strip().splitlines()[-1]
    server = LiveServer(settings)
    yield server, token
    server.terminate()


def test_the_api_keeps_to_its_openapi_document(live_api, tmp_path):
    server, token = live_api
    har, config = tmp_path / "exchanges.har", tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(ST), "--config-file", str(config), "run", f"{server.url}/api/openapi.json",
        "--checks", ",".join(CHECKS), "--phases", ",".join(PHASES),
        "--max-examples", str(MAX_EXAMPLES), "--seed", "20260101", "--workers", "1",
        "--request-timeout", "30", "--generation-database", "none", "--no-color",
        "--header", f"Authorization: Bearer {token}",
        "--report", "har", "--report-har-path", str(har),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    exchanges = json.loads(har.read_text())["log"]["entries"]
    assert len(exchanges) > 500  # it really ran
    assert FAKE_KEY not in har.read_text()
    assert FAKE_KEY not in server.log()
