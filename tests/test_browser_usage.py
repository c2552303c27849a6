"""An admin follows what chatting costs in Chromium: each reply's cost, the usage page, a budget that stops her."""
import pytest
from playwright.sync_api import expect

from app import create_app
from app.extensions import db
from tests.browser import RequestLog, browser, open_page, page  # noqa: F401  (fixtures)
from tests.conftest import TEST_SECRET, _empty_tables
from tests.live_server import LiveServer, server_env
from tests.test_browser_chat import SLOW, create_project, create_thread, last_reply, re_status, send, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.once]


@pytest.fixture(scope="module")
def live(migrated_database, fake_provider_server):
    """The app under gunicorn on an emptied database, so the first to sign up is the admin."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": migrated_database, "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        _empty_tables()
        db.engine.dispose()
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    yield server
    server.terminate()


def test_an_admin_sees_what_replies_cost_and_her_budget_stops_the_next_one(page, live):
    sign_up(page, live)
    create_project(page)
    create_thread(page, "Anthropic Claude")
    send(page, "What does this cost?")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page).locator(".message-usage")).to_have_text("6 in · 8 out · $0.000092")
    thread_url = page.url

    page.click("nav >> text=Usage")
    expect(page.locator("h1")).to_have_text("Your usage")
    expect(page.locator(".usage-chart rect")).to_have_count(1)
    expect(page.locator(".usage-table").first.locator("tbody tr")).to_have_count(1)

    page.click("nav >> text=Admin")
    row = page.locator(".admin-accounts tr", has_text="ada@example.com")
    expect(row).to_contain_text("admin")
    row.locator("input[name=monthly_budget]").fill("0.00005")
    row.locator("button", has_text="Set").click()
    expect(page.locator(".audit-log")).to_contain_text("monthly budget $0.00005")

    page.goto(thread_url)
    expect(page.locator("#budget-warning")).to_contain_text("of your $0.00005 budget")
    send(page, "One more, please")
    expect(page.locator("#composer-error")).to_contain_text("Ask an admin to raise it.")
    expect(page.locator("#composer textarea")).to_have_value("One more, please")
    expect(page.locator(".message-assistant")).to_have_count(1)
