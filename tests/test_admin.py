"""Roles: the first account is the admin; admins see and change every account, the team settings and the log."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from tests.conftest import PASSWORD
from tests.helpers import snapshot


@pytest.fixture
def team(app, client, auth):
    """Ada (the first account, so the admin) signed in, and Bob, a member; their bearer headers."""
    auth.signup_and_login()
    auth.create_user("bob@example.com")
    with app.app_context():
        ids = dict(db.session.execute(select(User.email, User.id)).all())
    return {"ada": auth.token(), "bob": auth.token("bob@example.com"), "bob_id": ids["bob@example.com"],
            "ada_id": ids["ada@example.com"]}


def admin_routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/admin", "/api/admin"))]


def test_the_first_account_is_the_admin_and_later_ones_are_members(app, team):
    with app.app_context():
        assert dict(db.session.execute(select(User.email, User.is_admin)).all()) == {
            "ada@example.com": True, "bob@example.com": False}


def test_the_cli_can_create_an_admin(app, runner, team):
    result = runner.invoke(args=["users", "create", "ops@example.com", "--password", "a long password", "--admin"])
    assert result.exit_code == 0 and "an admin" in result.output
    with app.app_context():
        assert db.session.scalar(select(User.is_admin).where(User.email == "ops@example.com"))


def test_a_member_gets_404_on_every_admin_route_and_changes_nothing(app, client, team):
    member = app.test_client()
    member.post("/login", data={"email": "bob@example.com", "password": PASSWORD})
    before = snapshot(app)
    for rule in admin_routes(app):
        path = rule.rule.replace("<int:user_id>", str(team["ada_id"]))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for attempt in ([{"headers": team["bob"], "json": {"is_admin": False}}, {"json": {}}]
                            if path.startswith("/api/") else [{"data": {"change_kind": "demote"}}]):
                assert member.open(path, method=method, **attempt).status_code == 404, (method, path)
    assert snapshot(app) == before
    assert "Admin" not in member.get("/").get_data(as_text=True).split("<main")[0]


def test_an_admin_sees_every_account_with_this_months_usage(client, team):
    users = client.get("/api/admin/users", headers=team["ada"]).json["users"]
    assert [(u["email"], u["is_admin"], u["disabled"]) for u in users] == [
        ("ada@example.com", True, False), ("bob@example.com", False, False)]
    assert users[1]["month_usage"]["replies"] == 0 and users[1]["monthly_budget"] is None
    page = client.get("/admin").get_data(as_text=True)
    assert "bob@example.com" in page and "Audit log" in page


def test_a_disabled_account_cant_sign_in_and_its_tokens_are_refused_at_once(app, client, team):
    assert client.get("/api/projects", headers=team["bob"]).status_code == 200
    answer = client.patch(f"/api/admin/users/{team['bob_id']}", json={"disabled": True}, headers=team["ada"])
    assert answer.status_code == 200 and answer.json["disabled"] is True
    assert client.get("/api/projects", headers=team["bob"]).status_code == 401
    other = app.test_client()
    response = other.post("/login", data={"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "disabled" in response.get_data(as_text=True)
    client.patch(f"/api/admin/users/{team['bob_id']}", json={"disabled": False}, headers=team["ada"])
    assert client.get("/api/projects", headers=team["bob"]).status_code == 200


def test_the_last_admin_cant_be_demoted_and_nothing_changes(app, client, team):
    before = snapshot(app)
    answer = client.patch(f"/api/admin/users/{team['ada_id']}", json={"is_admin": False}, headers=team["ada"])
    assert answer.status_code == 400 and "always be an admin" in answer.json["error"]
    assert snapshot(app) == before
    client.patch(f"/api/admin/users/{team['bob_id']}", json={"is_admin": True}, headers=team["ada"])
    answer = client.patch(f"/api/admin/users/{team['ada_id']}", json={"is_admin": False}, headers=team["ada"])
    assert answer.status_code == 200 and answer.json["is_admin"] is False


@pytest.mark.parametrize("budget, error", [
    (-5, "between 0 and"), ("ten", "number of dollars"), (True, "number of dollars"), (1e12, "between 0 and")])
def test_a_bad_budget_is_400_and_changes_nothing(app, client, team, budget, error):
    before = snapshot(app)
    answer = client.patch(f"/api/admin/users/{team['bob_id']}", json={"monthly_budget": budget}, headers=team["ada"])
    assert answer.status_code == 400 and error in answer.json["error"]
    answer = client.patch("/api/admin/settings", json={"default_budget": budget}, headers=team["ada"])
    assert answer.status_code == 400 and error in answer.json["error"]
    assert snapshot(app) == before


def test_budgets_and_registration_are_set_and_every_action_is_in_the_audit_log(app, client, team):
    assert client.patch(f"/api/admin/users/{team['bob_id']}", json={"monthly_budget": 12.5},
                        headers=team["ada"]).json["monthly_budget"] == 12.5
    settings = client.patch("/api/admin/settings", json={"registration_open": True, "default_budget": 5},
                            headers=team["ada"]).json
    assert settings == {"registration_open": True, "default_budget": 5.0}
    assert client.get("/register").get_data(as_text=True).count('name="password"') == 1  # open now
    client.patch("/api/admin/settings", json={"registration_open": None}, headers=team["ada"])
    assert client.get("/api/admin/settings", headers=team["ada"]).json["registration_open"] is False
    events = client.get("/api/admin/audit", headers=team["ada"]).json["events"]
    assert [(e["actor"], e["detail"], e["target"]) for e in events] == [
        ("ada@example.com", "closed registration (back to the server's setting)", None),
        ("ada@example.com", "team default budget $5.00", None),
        ("ada@example.com", "opened registration", None),
        ("ada@example.com", "monthly budget $12.50", "bob@example.com"),
    ]
    assert "monthly budget $12.50" in client.get("/admin").get_data(as_text=True)


def test_the_admin_page_forms_change_accounts_and_settings(app, client, team):
    client.post(f"/admin/users/{team['bob_id']}", data={"change_kind": "budget", "monthly_budget": "7.25"})
    client.post(f"/admin/users/{team['bob_id']}", data={"change_kind": "promote"})
    response = client.post("/admin/settings", data={"registration": "closed", "default_budget": "-1"})
    assert response.status_code == 400 and "between 0 and" in response.get_data(as_text=True)
    assert client.post("/admin/settings", data={"registration": "open", "default_budget": "3"}).status_code == 303
    with app.app_context():
        bob = db.session.get(User, team["bob_id"])
        assert bob.monthly_budget_micros == 7_250_000 and bob.is_admin
        assert db.session.scalar(select(AuditEvent.detail).order_by(AuditEvent.id.desc()).limit(1)) == \
            "team default budget $3.00"


def test_usage_groups_the_callers_replies_and_refuses_unknown_groups(client, team, scripted):
    project = client.post("/api/projects", json={"name": "P"}, headers=team["bob"]).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=team["bob"]).json
    client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=team["bob"])
    for group_by in ("day", "provider", "project", "model"):
        answer = client.get(f"/api/usage?group_by={group_by}", headers=team["bob"]).json
        assert answer["total"]["replies"] == 1 and answer["total"]["cost_micros"] == 26
        assert len(answer["groups"]) == 1
    assert client.get("/api/usage?group_by=project", headers=team["bob"]).json["groups"][0]["key"] == "P"
    assert client.get("/api/usage", headers=team["ada"]).json["total"]["replies"] == 0  # only her own
    assert client.get("/api/usage?group_by=user", headers=team["bob"]).status_code == 400
    everyone = client.get("/api/usage?group_by=user", headers=team["ada"]).json["groups"]
    assert [(g["key"], g["replies"]) for g in everyone] == [("bob@example.com", 1)]
    for bad in ("group_by=week", "from=yesterday", "from=2026-02-01&to=2026-01-01"):
        assert client.get(f"/api/usage?{bad}", headers=team["bob"]).status_code == 400


def test_the_usage_page_charts_each_day_with_a_table_beneath(client, auth, team, scripted):
    project = client.post("/api/projects", json={"name": "P"}, headers=team["ada"]).json
    thread = client.post(f"/api/projects/{project['id']}/threads", json={}, headers=team["ada"]).json
    client.post(f"/api/threads/{thread['id']}/messages", json={"content": "Hi"}, headers=team["ada"])
    html = client.get("/usage").get_data(as_text=True)
    assert html.count("<svg") == 2 and html.count("<rect") == 1 and "<caption>By day</caption>" in html
    assert "Anthropic Claude" in html and "$0.000026" in html
