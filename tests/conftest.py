"""Fixtures after flaskr: app, client, runner, auth, hx; one migrated database per run."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.services.live import REPLIES

TEST_SECRET = "test-secret-key"
FAKE_KEY = "sk-test-SECRET-KEY-do-not-leak"
PASSWORD = "correct horse battery"  # every test user's, unless a test says otherwise
PROVIDER_KEYS = {"ANTHROPIC_API_KEY": FAKE_KEY, "GEMINI_API_KEY": FAKE_KEY, "DEEPSEEK_API_KEY": FAKE_KEY}
# Pages consult the model catalogue: by default every provider is a closed local port (refused at
# once), never a real host; tests that need listings point them at the fake_provider's base_url.
CLOSED_PORT_URL = "http://127.0.0.1:9"
PROVIDER_URL_VARS = ("ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "DEEPSEEK_BASE_URL")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _sqlite_url(tmp_dir: Path) -> str:
    return f"sqlite:///{tmp_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The run's database: TEST_DATABASE_URL, else a fresh SQLite file."""
    return os.environ.get("TEST_DATABASE_URL") or _sqlite_url(tmp_path_factory.mktemp("db"))


def _reset_schema(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(database_url) -> str:
    """Build the schema once per run by running the migrations."""
    from flask_migrate import upgrade

    _reset_schema(database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


class CSRFClient(FlaskClient):
    """A test client that sends a valid CSRF token with every unsafe request, unless csrf=False."""

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method in UNSAFE:
            headers = dict(kwargs.pop("headers", None) or {})
            if "Authorization" not in headers:
                headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """A token valid for this client's session, as Flask-WTF makes it."""
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)


@pytest.fixture
def app(migrated_database, request):
    """An app from the factory on the migrated database, with every table emptied first."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": migrated_database,
        "REGISTRATION_OPEN": False,
        "RATELIMIT_ENABLED": False,  # tests/test_rate_limits.py turns it on
        "REPLY_TICK_SECONDS": 0.05,  # the ticker notices sooner that the last reply ended, and stops
        "AUTO_TITLES": False,  # tests/test_titles.py turns it on; elsewhere no extra provider requests
        **PROVIDER_KEYS,
        **dict.fromkeys(PROVIDER_URL_VARS, CLOSED_PORT_URL),
        **getattr(request, "param", {}),
    })
    app.test_client_class = CSRFClient
    with app.app_context():
        _empty_tables()
    yield app
    _wait_for_reply_threads()
    dispose_engines(app)
    _no_reply_left_running()


def dispose_engines(app) -> None:
    """Close every pooled connection of an app: the request pool's and the reply runner's own."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        app.extensions["reply_runner"].engine.dispose()


def _wait_for_reply_threads(timeout: float = 5.0) -> None:
    # Runners and the ticker outlive the request that started them: a connection they open after
    # the engine is disposed is never closed, and psycopg warns about it in some later test.
    deadline = time.monotonic() + timeout
    while any(t.name.startswith("reply-") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)


def _no_reply_left_running() -> None:
    # The registry is the process's: a reply a test leaves in it keeps every later test's ticker
    # alive (and each teardown waiting for it). Forget it, and fail the test that left it.
    left = REPLIES.all()
    for reply in left:
        REPLIES.remove(reply)
    assert not left, f"replies still registered after the test: {[reply.message_id for reply in left]}"


class KeyLeakGuard:
    """WSGI middleware that notes every response whose headers or body (streamed too) carry FAKE_KEY."""

    def __init__(self, wsgi_app, leaks: list[str]):
        self.wsgi_app, self.leaks = wsgi_app, leaks

    def __call__(self, environ, start_response):
        where = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"

        def checked_start_response(status, headers, exc_info=None):
            if any(FAKE_KEY in value for _, value in headers):
                self.leaks.append(f"the headers of {where}")
            return start_response(status, headers, exc_info)

        return self._checked(self.wsgi_app(environ, checked_start_response), where)

    def _checked(self, body, where: str):
        key, tail = FAKE_KEY.encode(), b""
        try:
            for chunk in body:
                if key in tail + chunk:  # the tail catches a key split across two chunks
                    self.leaks.append(f"the body of {where}")
                tail = (tail + chunk)[-len(key):]
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()


@pytest.fixture(autouse=True)
def no_provider_key_leaks(request, caplog):
    """Fail any test whose app answered with a provider key, or whose log records show one."""
    caplog.set_level(logging.INFO)
    leaks: list[str] = []
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        app.wsgi_app = KeyLeakGuard(app.wsgi_app, leaks)
    yield
    if FAKE_KEY in caplog.text:
        leaks.append("the log")
    assert not leaks, f"the provider key leaked into {sorted(set(leaks))}"


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Create users and sign the client in and out."""

    def __init__(self, app, client):
        self._app = app
        self._client = client

    def create_user(self, email="ada@example.com", password=PASSWORD):
        from app.services import accounts

        with self._app.app_context():
            return accounts.create_user(email, password).id

    def login(self, email="ada@example.com", password=PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def signup_and_login(self, email="ada@example.com", password=PASSWORD):
        user_id = self.create_user(email, password)
        self.login(email, password)
        return user_id

    def logout(self):
        return self._client.post("/logout")

    def token(self, email="ada@example.com", name="test"):
        """A bearer token for the user, as `Authorization` headers."""
        from app.services import accounts

        with self._app.app_context():
            _, secret = accounts.create_token(accounts.user_by_email(email), name)
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth(app, client):
    return AuthActions(app, client)


HX = {"HX-Request": "true"}


@pytest.fixture
def hx():
    """Headers that make a request look like it came from htmx."""
    return dict(HX)


def csrf_from(html: str) -> str | None:
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else None


class ScriptedAdapter:
    """An adapter that plays queued scripts and records what it was asked.

    A script is a list of steps: a str is a text delta, a ThinkingDelta or StreamEnd is yielded
    as it is, an exception is raised, and ("sleep", seconds) waits.
    """

    def __init__(self):
        self.scripts: list[list] = []
        self.requests: list = []
        self.closed = 0

    def __call__(self, settings):
        return self

    def queue(self, *steps) -> None:
        self.scripts.append(list(steps))

    def stream(self, request):
        import time

        from app.providers.base import StreamEnd, TextDelta, ThinkingDelta

        self.requests.append(request)
        steps = self.scripts.pop(0) if self.scripts else ["Hello", " there.", StreamEnd(3, 2, "end_turn")]
        try:
            for step in steps:
                if isinstance(step, str):
                    yield TextDelta(step)
                elif isinstance(step, (StreamEnd, ThinkingDelta)):
                    yield step
                elif isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                else:
                    raise step
        finally:
            self.closed += 1


@pytest.fixture
def scripted(monkeypatch):
    """Replace every provider's adapter with one scripted adapter; restored afterwards."""
    import dataclasses
    from functools import lru_cache

    from app import providers

    adapter = ScriptedAdapter()
    for name, spec in list(providers.PROVIDERS.items()):
        monkeypatch.setitem(providers.PROVIDERS, name, dataclasses.replace(spec, adapter_class=adapter))
    # An adapter cache of its own: the real adapters other tests cached are neither used here nor
    # dropped with their connections still open (a ResourceWarning in whichever test runs next).
    monkeypatch.setattr(providers, "_adapter", lru_cache(maxsize=None)(providers._adapter.__wrapped__))
    return adapter


@pytest.fixture(scope="session")
def fake_provider_server():
    """One wire-level fake of the three provider APIs for the whole run."""
    from tests.fake_provider import FakeProvider

    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def fake_provider(fake_provider_server):
    """The fake provider server, with its history, failure counts, models and reply settings reset."""
    fake_provider_server.reset()
    return fake_provider_server


@pytest.fixture
def wired(app, fake_provider):
    """The app's providers point at the fake, with no automatic retries (fast failures)."""
    for var in PROVIDER_URL_VARS:
        app.config[var] = fake_provider.base_url
    app.config["PROVIDER_MAX_RETRIES"] = 0
    app.config["PROVIDER_TIMEOUT_SECONDS"] = 1.5
    return fake_provider
