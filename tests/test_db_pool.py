"""Pooled connections: a dropped idle connection is replaced unseen; one lost mid-request is a 503."""
from sqlalchemy.exc import OperationalError, ProgrammingError

from app import db_pool
from app.extensions import db
from app.services import workspace


def _recording_pings(monkeypatch, engine) -> list:
    pinged = []
    real_ping = engine.dialect.do_ping

    def ping(dbapi_connection):
        pinged.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pinged


def test_connections_in_steady_use_are_not_pinged(app, client, auth, monkeypatch):
    auth.create_user()
    api = auth.token()
    with app.app_context():
        pinged = _recording_pings(monkeypatch, db.engine)
    for _ in range(3):
        assert client.get("/api/projects", headers=api).status_code == 200
    assert pinged == []


def test_a_request_after_the_database_dropped_an_idle_connection_succeeds(app, client, auth, monkeypatch):
    auth.create_user()
    api = auth.token()
    with app.app_context():
        pinged = _recording_pings(monkeypatch, db.engine)
        with db.engine.connect() as conn:
            dropped, info = conn.connection.dbapi_connection, conn.connection.info
    info["checked_in_at"] -= db_pool.PING_AFTER_IDLE_SECONDS + 1  # as if it had sat idle that long
    dropped.close()  # and the database had closed it meanwhile

    assert client.get("/api/projects", headers=api).status_code == 200
    assert dropped in pinged  # found dead at checkout and replaced, not handed to the request


def test_a_connection_lost_mid_request_is_a_503_and_other_database_errors_a_500(app, client, auth, monkeypatch):
    auth.create_user()
    api = auth.token()
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"),
                            connection_invalidated=True)

    def fail_with(exc):
        def projects_page(*args):
            raise exc
        monkeypatch.setattr(workspace, "projects_page", projects_page)

    fail_with(lost)
    response = client.get("/api/projects", headers=api)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json["error"] == "The server is busy right now. Try again in a few seconds."

    fail_with(ProgrammingError("SELECT nonsense", {}, Exception("syntax error")))
    response = client.get("/api/projects", headers=api)
    assert response.status_code == 500 and "Retry-After" not in response.headers
