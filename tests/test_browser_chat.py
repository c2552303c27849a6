"""A person chats in Debian's Chromium: the reply streams, survives a reload and finishes."""
import pytest

from tests.browser import browser, page  # noqa: F401  (fixtures)
from tests.live_server import LiveServer, server_env

pytestmark = [pytest.mark.browser, pytest.mark.once]


@pytest.fixture(scope="module")
def live(migrated_database, fake_provider_server):
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    yield server
    server.terminate()


def sign_up(page, live):
    page.goto(live.url + "/register")
    page.fill("#email", "ada@example.com")
    page.fill("#password", "correct horse battery")
    page.fill("#confirm", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/")


def create_project_and_thread(page, provider_label):
    page.fill("#name", "Research")
    page.fill("#instructions", "Answer briefly.")
    page.click("#project-form button[type=submit]")
    page.wait_for_selector("#thread-form")
    page.select_option("#model_provider", label=provider_label)
    page.fill("#title", "First chat")
    page.click("#thread-form button[type=submit]")
    page.wait_for_selector("#composer")


def reply_text(page) -> str:
    return page.locator(".message-assistant").last.inner_text()


def test_a_reply_streams_survives_a_reload_and_finishes(app, page, live):
    sign_up(page, live)
    create_project_and_thread(page, "Google Gemini")
    assert "Google Gemini" in page.locator("#thread-header .badge").inner_text()

    page.fill("#composer textarea", "Tell me a story [[tokens:40]] [[token-delay:0.1]]")
    page.press("#composer textarea", "Enter")
    page.wait_for_selector(".message-user")
    assert page.locator("#composer textarea").input_value() == ""
    page.wait_for_function(
        "() => (document.querySelector('.reply-text')?.textContent || '').length > 10")
    first = page.locator(".reply-text").inner_text()
    page.wait_for_function(
        f"() => (document.querySelector('.reply-text')?.textContent || '').length > {len(first)}")
    assert page.locator(".status-pending").count() == 1  # it grew before it was complete

    page.reload()
    page.wait_for_selector(".status-pending .reply-text")
    page.wait_for_selector(".message-assistant.status-complete", timeout=15_000)
    final = reply_text(page)
    assert final.startswith("Google Gemini") and "Hello from fake google." in final and "w39" in final
    assert final.count("Hello from fake google.") == 1  # nothing inserted twice after the reconnect

    page.reload()
    assert page.locator(".message").count() == 2
    assert "w39" in reply_text(page)


def test_shift_enter_makes_a_new_line(app, page, live):
    sign_up(page, live)
    create_project_and_thread(page, "DeepSeek")
    page.fill("#composer textarea", "line one")
    page.press("#composer textarea", "Shift+Enter")
    page.keyboard.type("line two")
    assert page.locator("#composer textarea").input_value() == "line one\nline two"
    assert page.locator(".message").count() == 0
