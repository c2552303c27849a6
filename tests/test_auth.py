"""Accounts: registration rules, sign-in, sign-out, the CLI."""
from app.models import User
from app.extensions import db
from tests.conftest import dispose_engines


def test_registration_is_open_on_a_fresh_install(client):
    page = client.get("/register")
    assert page.status_code == 200 and b'name="email"' in page.data
    response = client.post("/register", data={
        "email": "First@Example.com", "password": "a long password", "confirm": "a long password"})
    assert response.status_code == 303
    assert client.get("/").status_code == 200  # signed in


def test_registration_closes_after_the_first_user(client, auth):
    auth.create_user()
    page = client.get("/register")
    assert b"Registration is closed" in page.data
    response = client.post("/register", data={
        "email": "eve@example.com", "password": "a long password", "confirm": "a long password"})
    assert response.status_code == 403
    with client.application.app_context():
        assert db.session.query(User).count() == 1


def test_registration_open_when_configured(app, client, auth):
    auth.create_user()
    app.config["REGISTRATION_OPEN"] = True
    response = client.post("/register", data={
        "email": "bob@example.com", "password": "a long password", "confirm": "a long password"})
    assert response.status_code == 303


def test_register_rejects_duplicate_email_case_insensitively(app, client, auth):
    auth.create_user("ada@example.com")
    app.config["REGISTRATION_OPEN"] = True
    response = client.post("/register", data={
        "email": "ADA@example.com", "password": "a long password", "confirm": "a long password"})
    assert response.status_code == 400
    assert b"already exists" in response.data


def test_register_rejects_short_password_and_mismatch(client):
    response = client.post("/register", data={"email": "a@example.com", "password": "short", "confirm": "other"})
    assert response.status_code == 400
    assert b"between 8 and 200" in response.data and b"do not match" in response.data


def test_pages_redirect_to_login_and_back(client, auth):
    response = client.get("/projects/1")
    assert response.status_code == 302
    assert "/login?next=%2Fprojects%2F1" in response.headers["Location"]
    auth.create_user()
    response = client.post("/login?next=/settings", data={
        "email": "ada@example.com", "password": "correct horse battery"})
    assert response.status_code == 303 and response.headers["Location"] == "/settings"


def test_login_never_redirects_off_site(client, auth):
    auth.create_user()
    response = client.post("/login?next=//evil.example/x", data={
        "email": "ada@example.com", "password": "correct horse battery"})
    assert response.headers["Location"] == "/"


def test_login_is_case_insensitive_on_email(client, auth):
    auth.create_user("ada@example.com")
    assert auth.login("ADA@Example.COM").status_code == 303


def test_wrong_password_is_refused_with_a_message(client, auth):
    auth.create_user()
    response = auth.login(password="wrong password")
    assert response.status_code == 400
    assert b"Wrong email or password" in response.data
    assert client.get("/").status_code == 302


def test_logout_ends_the_session(client, auth):
    auth.signup_and_login()
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 303
    assert client.get("/").status_code == 302


def test_session_survives_a_new_app_instance_with_the_same_secret(app, client, auth):
    auth.signup_and_login()
    cookie = client.get_cookie("session")
    from app import create_app

    restarted = create_app({**{k: app.config[k] for k in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")}, "TESTING": True})
    other = restarted.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/").status_code == 200
    dispose_engines(restarted)


def test_password_is_stored_hashed(app, auth):
    auth.create_user(password="correct horse battery")
    with app.app_context():
        user = db.session.query(User).one()
        assert "correct horse" not in user.password_hash
        assert user.password_hash.startswith("scrypt:")


def test_cli_creates_users_even_when_registration_is_closed(app, runner, auth):
    auth.create_user()
    result = runner.invoke(args=["users", "create", "ops@example.com", "--password", "a long password"])
    assert result.exit_code == 0, result.output
    assert "Created user" in result.output
    result = runner.invoke(args=["users", "create", "ops@example.com", "--password", "x"])
    assert result.exit_code != 0 and "already exists" in result.output


def test_cli_creates_and_revokes_tokens(app, runner, auth, client):
    auth.create_user()
    result = runner.invoke(args=["tokens", "create", "ada@example.com", "--name", "script"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/projects", headers=headers).status_code == 200
    token_id = result.output.split()[1]
    result = runner.invoke(args=["tokens", "revoke", token_id])
    assert result.exit_code == 0 and "Revoked" in result.output
    assert client.get("/api/projects", headers=headers).status_code == 401


def test_cli_token_for_unknown_user_fails_clearly(runner):
    result = runner.invoke(args=["tokens", "create", "nobody@example.com"])
    assert result.exit_code != 0 and "No user" in result.output
    result = runner.invoke(args=["tokens", "revoke", "999"])
    assert result.exit_code != 0 and "No token" in result.output
