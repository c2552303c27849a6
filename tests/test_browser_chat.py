"""People chat in Debian's Chromium, against the app under gunicorn and the wire-level fake provider.

Each test is one journey from sign-up on; the last also watches the content security policy. Markers
in a message steer the fake provider (tests/fake_provider/markers.py): `[[tokens:N]]`, `[[token-delay:S]]`,
`[[delay:S]]`, `[[fail:STATUS:N]]`, `[[think:N]]`.
"""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser import RequestLog, browser, open_page, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, server_env

pytestmark = [pytest.mark.browser, pytest.mark.once]

SLOW = 15_000  # ms: a reply, an SDK retry with back-off, a page that refreshes itself


@pytest.fixture(scope="module")
def live(migrated_database, fake_provider_server):
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url))
    yield server
    server.terminate()


# --- steps, by mouse and keyboard as a person would --------------------------------------------

def sign_up(page, live, email="ada@example.com"):
    page.goto(live.url + "/register")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/")


def create_project(page, name="Research", instructions="Answer briefly."):
    page.fill("#name", name)
    page.fill("#instructions", instructions)
    page.click("#project-form button[type=submit]")
    page.wait_for_selector("#thread-form")
    expect(page.locator("#project-header h1")).to_have_text(name)
    expect(page.locator("#project-header .instructions")).to_contain_text(instructions)


def create_thread(page, provider_label, title="First chat"):
    page.select_option("#model_provider", label=provider_label)
    page.fill("#title", title)
    page.click("#thread-form button[type=submit]")
    page.wait_for_selector("#composer")
    expect(page.locator("#thread-header h1")).to_have_text(title)
    expect(page.locator("#thread-header .badge")).to_have_text(provider_label)


def send(page, text):
    page.fill("#composer textarea", text)
    page.press("#composer textarea", "Enter")


def last_reply(page):
    return page.locator(".message-assistant").last


def reply_length(page) -> int:
    return page.evaluate("() => (document.querySelector('.status-pending .reply-text')?.textContent || '').length")


def wait_until_it_grows(page, longer_than: int = 0) -> int:
    """Wait for the pending reply's text to grow past `longer_than` characters; its new length."""
    page.wait_for_function(
        f"() => (document.querySelector('.status-pending .reply-text')?.textContent || '').length > {longer_than}")
    return reply_length(page)


def expect_reply_streams_and_finishes(page, provider):
    first = wait_until_it_grows(page, 10)
    wait_until_it_grows(page, first)
    expect(page.locator(".status-pending")).to_have_count(1)  # it grew before it was complete
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page).locator(".message-body")).to_contain_text(f"Hello from fake {provider}.")
    expect(page.locator("#announcer")).to_have_text("Reply finished.")


def re_status(status):
    """A class pattern for `to_have_class`: the message is in this state."""
    return re.compile(rf"\bstatus-{status}\b")


# --- journeys ---------------------------------------------------------------------------------

def test_google_journey_from_sign_up_to_deleting_the_thread(app, page, live):
    """The whole main journey: stream, reload, stop, error and Retry, rename and delete."""
    requests = RequestLog(page.context)
    sign_up(page, live)
    create_project(page)
    create_thread(page, "Google Gemini")

    # Enter sends; before the first token a "thinking" state shows, then the text grows.
    send(page, "Tell me a story [[delay:1]] [[tokens:40]] [[token-delay:0.1]]")
    expect(page.locator(".message-user")).to_contain_text("Tell me a story")
    expect(page.locator("#composer textarea")).to_have_value("")
    expect(page.locator(".status-pending .thinking")).to_be_visible()
    first = wait_until_it_grows(page, 10)
    expect(page.locator(".status-pending .thinking")).to_be_hidden()
    wait_until_it_grows(page, first)
    # Screen readers hear the finished reply once, from #announcer, not every delta.
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#announcer")).to_have_text("")
    expect(page.locator("#messages [aria-live], #messages [role=status], #messages [role=alert]")).to_have_count(0)

    # A reload mid-reply picks the stream up where it was; nothing is shown twice.
    page.reload()
    expect(page.locator(".status-pending .reply-text")).not_to_be_empty()
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    body = last_reply(page).locator(".message-body").inner_text()
    assert body.count("Hello from fake google.") == 1 and body.rstrip().endswith("w39")
    expect(page.locator("#announcer")).to_have_text("Reply finished.")

    page.reload()
    expect(page.locator(".message")).to_have_count(2)
    expect(last_reply(page)).to_contain_text("w39")

    # Shift+Enter makes a new line, not a send.
    page.fill("#composer textarea", "line one")
    page.press("#composer textarea", "Shift+Enter")
    page.keyboard.type("line two")
    expect(page.locator("#composer textarea")).to_have_value("line one\nline two")
    expect(page.locator(".message")).to_have_count(2)

    # Stop keeps the partial reply, marked stopped.
    send(page, "A very long story [[tokens:600]] [[token-delay:0.05]]")
    wait_until_it_grows(page, 30)
    page.locator(".status-pending").get_by_role("button", name="Stop").click()
    expect(last_reply(page)).to_have_class(re_status("stopped"), timeout=SLOW)
    expect(last_reply(page).locator(".message-note")).to_have_text("Stopped before the end.")
    partial = last_reply(page).locator(".message-body").inner_text()
    assert partial.startswith("Hello from fake google.") and "w599" not in partial
    expect(page.locator("#announcer")).to_have_text("Reply stopped.")

    # A provider error shows its message; Retry brings the answer (the SDK's own 2 retries failed too).
    send(page, "Are you there? [[fail:503:3]]")
    expect(last_reply(page)).to_have_class(re_status("error"), timeout=SLOW)
    expect(last_reply(page).locator(".message-error")).to_have_text("Google Gemini is overloaded (503).")
    expect(page.locator("#announcer")).to_have_text("Reply failed: Google Gemini is overloaded (503).")
    last_reply(page).get_by_role("button", name="Retry").click()
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page)).to_contain_text("Hello from fake google.")
    expect(page.locator(".message-error")).to_have_count(0)

    # Rename, then delete through the confirmation page.
    page.get_by_text("Rename or delete").click()
    page.fill("#thread-header #title", "Stories")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#thread-header h1")).to_have_text("Stories")
    page.reload()
    expect(page.locator("#thread-header h1")).to_have_text("Stories")
    page.get_by_text("Rename or delete").click()
    page.get_by_role("link", name="Delete thread…").click()
    expect(page.locator("h1")).to_have_text("Delete this thread?")
    page.get_by_role("button", name="Delete thread").click()
    expect(page.locator("#project-header h1")).to_have_text("Research")
    expect(page.locator(".empty")).to_contain_text("No threads yet")
    assert requests.outside(live.url) == []


@pytest.mark.parametrize("label, provider", [("DeepSeek", "deepseek"), ("Anthropic Claude", "anthropic")])
def test_create_and_chat_journey(app, page, live, label, provider):
    """The creation-and-chat part of the journey for the other providers."""
    sign_up(page, live)
    create_project(page)
    create_thread(page, label)
    send(page, "Hello there [[tokens:30]] [[token-delay:0.05]]")
    expect(page.locator(".message-user")).to_contain_text("Hello there")
    expect_reply_streams_and_finishes(page, provider)
    expect(last_reply(page).locator(".message-role")).to_have_text(label)
    page.reload()
    expect(page.locator(".message")).to_have_count(2)
    expect(last_reply(page)).to_contain_text(f"Hello from fake {provider}.")


def test_thoughts_stream_into_a_collapsed_disclosure_above_the_answer(app, page, live):
    """The model's thoughts show live once the disclosure is opened, then stay with the reply after reload."""
    sign_up(page, live)
    create_project(page)
    create_thread(page, "DeepSeek")
    send(page, "Think it over [[think:40]] [[tokens:10]] [[token-delay:0.08]]")
    disclosure = page.locator(".status-pending details.thoughts")
    expect(disclosure).to_be_visible()
    expect(disclosure.locator("summary")).to_have_text("Thinking")
    expect(disclosure.locator(".thoughts-text")).to_be_hidden()  # collapsed until opened
    expect(page.locator(".status-pending .thinking")).to_be_visible()  # no answer yet: the dots stay
    disclosure.locator("summary").click()
    thoughts = disclosure.locator(".thoughts-text")
    expect(thoughts).to_contain_text("Let me think.")
    first = len(thoughts.inner_text())
    page.wait_for_function(
        f"() => (document.querySelector('.status-pending .thoughts-text')?.textContent || '').length > {first}")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    done = last_reply(page).locator("details.thoughts")
    expect(done.locator("summary")).to_have_text(re.compile(r"^Thought for (\d+ s|less than a second)$"))
    expect(last_reply(page).locator(".message-body")).to_contain_text("Hello from fake deepseek.")
    page.reload()
    done = last_reply(page).locator("details.thoughts")
    expect(done.locator(".thoughts-text")).to_be_hidden()
    done.locator("summary").click()
    expect(done.locator(".thoughts-text")).to_contain_text("Let me think. t4")
    assert "t39" in done.locator(".thoughts-text").inner_text()


# --- the same journey with the keyboard alone ---------------------------------------------------

def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches `selector`, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def test_main_journey_with_the_keyboard_alone(app, page, live):
    """Sign up, create, chat, stop, retry, rename and delete without touching the mouse."""
    page.goto(live.url + "/register")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type("ada@example.com")
    type_into(page, "#password", "correct horse battery")
    type_into(page, "#confirm", "correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_url(live.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()  # the first stop skips the header
    expect(page.locator(".skip-link")).to_be_in_viewport()

    type_into(page, "#name", "Research")
    type_into(page, "#instructions", "Answer briefly.")
    tab_to(page, "#project-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#thread-form")

    tab_to(page, "#title")
    page.keyboard.type("Keyboard chat")
    tab_to(page, "#model_provider")
    page.keyboard.type("Google")  # typing picks the option, as on any select
    expect(page.locator("#model_provider")).to_have_value("google")
    tab_to(page, "#thread-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#composer")
    expect(page.locator("#thread-header .badge")).to_have_text("Google Gemini")

    tab_to(page, "#composer textarea")
    page.keyboard.type("Tell me a story [[tokens:20]] [[token-delay:0.05]]")
    page.keyboard.press("Enter")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(page.locator("#composer textarea")).to_be_focused()

    page.keyboard.type("A very long story [[tokens:600]] [[token-delay:0.05]]")
    page.keyboard.press("Enter")
    wait_until_it_grows(page, 20)
    tab_to(page, ".status-pending .message-actions button")
    page.keyboard.press("Enter")
    expect(last_reply(page)).to_have_class(re_status("stopped"), timeout=SLOW)
    # Focus moves to what replaced the button: the stopped reply's Retry.
    expect(last_reply(page).get_by_role("button", name="Retry")).to_be_focused()
    page.keyboard.press("Enter")
    expect(last_reply(page)).to_have_class(re_status("pending"))
    expect(last_reply(page).get_by_role("button", name="Stop")).to_be_focused()
    page.keyboard.press("Enter")
    expect(last_reply(page)).to_have_class(re_status("stopped"), timeout=SLOW)

    tab_to(page, "#thread-header summary")
    page.keyboard.press("Enter")
    tab_to(page, "#thread-header #title")
    page.keyboard.press("Control+A")
    page.keyboard.type("Renamed by keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-header h1")).to_have_text("Renamed by keyboard")

    tab_to(page, "#thread-header summary")
    if page.locator("#thread-header details[open]").count() == 0:
        page.keyboard.press("Enter")
    tab_to(page, "a.danger-link")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Delete this thread?")
    tab_to(page, "button.danger")
    page.keyboard.press("Enter")
    expect(page.locator(".empty")).to_contain_text("No threads yet")


def test_search_from_the_header_opens_the_message_highlighted(app, page, live):
    """Find an old message from the header's box as you type, open it: its thread scrolls to it, marked."""
    sign_up(page, live)
    create_project(page)
    create_thread(page, "DeepSeek", title="Zoology")
    send(page, "Tell me about penguins [[tokens:5]]")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    for n in range(3):
        send(page, f"Something else {n} [[tokens:60]]")
        expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    page.evaluate("document.activeElement.blur()")  # "/" typed into the message box is just a slash
    page.keyboard.press("/")
    expect(page.locator("#header-search")).to_be_focused()
    page.keyboard.type("penguin")
    hit = page.locator(".search-hit a").first
    expect(hit).to_contain_text("Zoology")  # there without pressing Enter
    expect(page.locator(".search-hit mark").first).to_have_text("penguins")
    hit.click()
    page.wait_for_url(re.compile(r"/threads/\d+#message-\d+$"))
    target = page.locator(".message:target")
    expect(target).to_have_count(1)
    expect(target).to_contain_text("Tell me about penguins")
    expect(target).to_be_in_viewport()
    assert target.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"


# --- without JavaScript -------------------------------------------------------------------------

def test_without_javascript_a_person_can_still_chat(app, open_page, live):
    """Plain forms and a page that refreshes itself while the reply is pending, and stops once it is done."""
    page = open_page(java_script_enabled=False)
    sign_up(page, live)
    create_project(page)
    create_thread(page, "DeepSeek")

    page.fill("#composer textarea", "No scripts here [[tokens:20]] [[token-delay:0.1]]")
    page.get_by_role("button", name="Send").click()  # Enter makes a new line without JavaScript
    expect(page.locator(".message-user")).to_contain_text("No scripts here")
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(1)  # pending: the page refreshes itself

    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page)).to_contain_text("Hello from fake deepseek.")
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    loads = []
    page.on("load", lambda _: loads.append(1))
    time.sleep(3)  # longer than the refresh interval
    assert loads == []  # done: no more refreshing


# --- the content security policy ----------------------------------------------------------------

def test_in_chromium_the_policy_blocks_nothing_the_app_does_and_blocks_an_injected_script(app, page, live):
    violations = []
    page.expose_function("reportViolation", lambda text: violations.append(text))
    # Init scripts come through the DevTools protocol, which the page's policy does not govern.
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "e => reportViolation(e.violatedDirective + ' ' + e.blockedURI))")
    sign_up(page, live)
    page.fill("#name", "Research")
    page.click("#project-form button[type=submit]")
    page.select_option("#model_provider", "google")
    page.click("#thread-form button[type=submit]")
    send(page, "Show me [[canned:markdown]]")
    expect(page.locator(".message-assistant.status-complete .code-block")).to_be_visible(timeout=SLOW)
    send(page, "A long one [[tokens:400]] [[token-delay:0.05]]")
    page.locator(".status-pending").get_by_role("button", name="Stop").click()
    expect(last_reply(page)).to_have_class(re_status("stopped"), timeout=SLOW)
    last_reply(page).get_by_role("button", name="Retry").click()
    expect(last_reply(page)).to_have_class(re_status("pending"))
    page.reload()  # the pending reply reconnects to its stream
    page.locator(".status-pending").get_by_role("button", name="Stop").click()
    expect(last_reply(page)).to_have_class(re_status("stopped"), timeout=SLOW)
    assert violations == []

    ran = page.evaluate("""() => new Promise(resolve => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        setTimeout(() => resolve(window.injected === true), 100);
    })""")
    assert ran is False
    assert violations == ["script-src-elem inline"]


# --- versions and forks -------------------------------------------------------------------------

def test_branch_journey_edit_switch_back_and_fork_to_another_provider(app, page, live):
    """Edit a message → a new reply; switch back to the old version; fork it to DeepSeek, which answers."""
    sign_up(page, live)
    create_project(page)
    create_thread(page, "Google Gemini")
    send(page, "First question [[tokens:12]] [[token-delay:0.02]]")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)

    page.locator(".message-user").get_by_role("link", name="Edit your message").click()
    box = page.get_by_label("New version of your message")
    expect(box).to_have_value("First question [[tokens:12]] [[token-delay:0.02]]")
    box.fill("Second try [[tokens:12]] [[token-delay:0.05]]")
    page.get_by_role("button", name="Send the new version").click()
    expect(page.locator(".message-user")).to_contain_text("Second try")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page)).to_contain_text("Hello from fake google.")
    expect(page.locator(".message-user .switcher")).to_have_attribute("aria-label", "Version 2 of 2")

    page.locator(".message-user").get_by_role("button", name="Previous version").click()
    expect(page.locator(".message-user")).to_contain_text("First question")
    expect(page.locator(".message-user .switcher-position")).to_have_text("1 / 2")
    page.reload()  # the switch is stored: the thread opens on this version
    expect(page.locator(".message-user")).to_contain_text("First question")
    expect(page.locator(".message")).to_have_count(2)

    page.locator(".message-user").get_by_role("link", name=re.compile("^Fork")).click()
    expect(page.locator("h1")).to_have_text("Fork this conversation")
    page.select_option("#model_provider", label="DeepSeek")
    page.get_by_role("button", name="Fork").click()
    expect(page.locator("#thread-header h1")).to_have_text("First chat (fork)")
    expect(page.locator("#thread-header .badge")).to_have_text("DeepSeek")
    expect(page.locator("#forked-from a")).to_have_text("First chat")
    expect(last_reply(page)).to_have_class(re_status("complete"), timeout=SLOW)
    expect(last_reply(page)).to_contain_text("Hello from fake deepseek.")
    expect(page.locator(".message-user")).to_contain_text("First question")
