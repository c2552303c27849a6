"""Monthly budgets: a reply that would start past the budget is refused before anything is sent or stored."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from app.extensions import db
from app.models import Message, Setting, UsageTotal, User, utcnow
from app.services import budgets

BUDGET = 1_000_000  # $1.00


def spend(app, micros: int, day: date | None = None) -> None:
    """Record that ada spent `micros` on a day (today by default)."""
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
        db.session.execute(insert(UsageTotal), [{
            "user_id": user_id, "day": day or utcnow().date(), "project_id": 1, "provider": "anthropic",
            "model": f"m{micros}-{day}", "replies": 1, "input_tokens": 1, "output_tokens": 1, "cost_micros": micros,
            "updated_at": utcnow()}])
        db.session.commit()


def set_budget(app, micros: int | None = BUDGET, default: int | None = None) -> None:
    with app.app_context():
        db.session.execute(update(User).values(monthly_budget_micros=micros))
        if default is not None:
            db.session.merge(Setting(key=budgets.DEFAULT_BUDGET_KEY, value=str(default)))
        db.session.commit()


def message_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Message.id)))


@pytest.fixture
def thread(client, auth):
    auth.signup_and_login()
    project = client.post("/api/projects", json={"name": "P"}, headers=auth.token()).json
    return client.post(f"/api/projects/{project['id']}/threads", json={}, headers=auth.token()).json["id"]


def post(client, auth, thread_id):
    return client.post(f"/api/threads/{thread_id}/messages", json={"content": "Hi"}, headers=auth.token())


def test_a_reply_past_the_budget_is_refused_with_402_and_nothing_is_stored_or_sent(app, client, auth, thread,
                                                                                    scripted):
    set_budget(app)
    spend(app, BUDGET)
    response = post(client, auth, thread)
    assert response.status_code == 402
    reset = budgets.next_month(utcnow().date())
    assert response.json["error"] == (f"You have used $1.00 of your $1.00 budget this month; it resets on "
                                      f"{reset.day} {reset.strftime('%B %Y')}. Ask an admin to raise it.")
    assert message_count(app) == 0 and scripted.requests == []


def test_just_under_the_budget_a_reply_may_start_and_its_cost_counts(app, client, auth, thread, scripted):
    set_budget(app)
    spend(app, BUDGET - 27)
    first = post(client, auth, thread)
    assert first.status_code == 201 and first.json["assistant_message"]["cost_micros"] == 26  # 3×$2 + 2×$10
    assert post(client, auth, thread).status_code == 201  # 1 µ$ left: still under
    assert post(client, auth, thread).status_code == 402


def test_last_months_spending_does_not_count(app, client, auth, thread, scripted):
    set_budget(app)
    spend(app, BUDGET * 5, utcnow().date().replace(day=1) - timedelta(days=1))
    assert post(client, auth, thread).status_code == 201


def test_the_teams_default_budget_applies_unless_a_person_has_their_own(app, client, auth, thread, scripted):
    set_budget(app, None, default=BUDGET)
    spend(app, BUDGET)
    assert post(client, auth, thread).status_code == 402
    set_budget(app, 2 * BUDGET)
    assert post(client, auth, thread).status_code == 201


def test_the_page_keeps_the_typed_text_and_says_why(app, client, auth, thread, hx, scripted):
    set_budget(app)
    spend(app, BUDGET)
    response = client.post(f"/threads/{thread}/messages", data={"content": "Keep me"}, headers=hx)
    html = response.get_data(as_text=True)
    assert response.status_code == 402 and "Keep me" in html and "Ask an admin to raise it." in html
    assert message_count(app) == 0


def test_the_composer_warns_from_80_percent(app, client, auth, thread):
    set_budget(app)
    spend(app, BUDGET * 79 // 100)
    assert 'id="budget-warning"' not in client.get(f"/threads/{thread}").get_data(as_text=True)
    spend(app, BUDGET // 100)
    html = client.get(f"/threads/{thread}").get_data(as_text=True)
    assert 'id="budget-warning"' in html and "You have used $0.80 of your $1.00 budget" in html


def test_retry_is_refused_past_the_budget_too(app, client, auth, thread, scripted):
    scripted.queue(RuntimeError("boom"))
    failed = post(client, auth, thread).json["assistant_message"]
    set_budget(app)
    spend(app, BUDGET)
    assert client.post(f"/api/messages/{failed['id']}/retry", headers=auth.token()).status_code == 402
