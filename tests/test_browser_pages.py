"""Every page in its typical states, in Debian's Chromium: accessible (axe-core), valid HTML (the Nu
Html Checker), nothing fetched from outside the app, cacheable static files, and screenshots.

One populated site (tests/browser_site.py) serves the whole module.
"""
import re

import pytest
from playwright.sync_api import expect

from tests import html_check
from tests.browser import (  # noqa: F401  (fixtures)
    DESKTOP, PHONE, RequestLog, axe_violations, browser, open_page, screenshot,
)
from tests.browser_site import EMAIL, NEWCOMER, Client, Site, collect_documents, log_in, seed, start_reply
from tests.live_server import LiveServer, server_env

pytestmark = [pytest.mark.browser, pytest.mark.once]

ONE_YEAR = 31536000


@pytest.fixture(scope="module")
def live(migrated_database, fake_provider_server):
    # The two replies left running must outlast the module: no provider timeout within it.
    server = LiveServer(server_env(migrated_database, fake_provider_server.base_url, REGISTRATION_OPEN="true",
                                   PROVIDER_TIMEOUT_SECONDS="900"))
    yield server
    server.terminate()


@pytest.fixture(scope="module")
def site(live, browser, migrated_database):
    """The populated site, two replies left running (one mid-text, one before its first word), and
    the HTML of every page and fragment."""
    site = Site(live.url, seed(migrated_database))
    for email in (EMAIL, NEWCOMER):
        site.logins[email] = log_in(browser, live.url, email)
    context = browser.new_context(storage_state=site.logins[EMAIL])
    anonymous = browser.new_context()
    newcomer = browser.new_context(storage_state=site.logins[NEWCOMER])
    client = Client(context.request, live.url)
    client.token = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/")).group(1)
    site.pending.append(start_reply(client, site, "streaming", "Write me a long poem [[tokens:80]] [[stall-after:40]]"))
    site.pending.append(start_reply(client, site, "thinking", "Take your time [[stall]]"))
    collect_documents(site, client, Client(anonymous.request, live.url))
    site.documents["page: projects, none yet"] = Client(newcomer.request, live.url).get("/")
    yield site
    for reply in site.pending:  # so the server can stop at once
        client.post(f"/messages/{reply}/stop", {}, 204, htmx=True)
    for each in (context, anonymous, newcomer):
        each.close()


def visit(open_page, site, who, **options):
    """A page signed in as `who` (None: anonymous), with a log of its requests."""
    page = open_page(**({"storage_state": site.logins[who]} if who else {}), **options)
    page.request_log = RequestLog(page.context)
    return page


# --- the states a person sees; each brings a fresh page there --------------------------------------

def go(path):
    def state(page, site):
        page.goto(site.path(path))
    return state


def register_with_errors(page, site):
    page.goto(site.path("/register"))
    page.fill("#email", "grace@example")
    page.fill("#password", "short")
    page.fill("#confirm", "other")
    page.click("button[type=submit]")
    expect(page.locator("#password-error")).to_be_visible()


def project_form_with_error(page, site):
    page.goto(site.path("/"))
    page.fill("#name", "   ")  # passes the browser's `required`, not the server's check
    page.click("#project-form button[type=submit]")
    expect(page.locator("#name-error")).to_be_visible()


def thread_form_with_error(page, site):
    page.goto(site.path("/projects/{billing}"))
    page.locator("#title").evaluate("field => field.removeAttribute('maxlength')")  # as an old browser would
    page.fill("#title", "A title far too long to keep " * 8)
    page.click("#thread-form button[type=submit]")
    expect(page.locator("#title-error")).to_be_visible()


def long_conversation(page, site):
    page.goto(site.path("/threads/{invoices}"))
    expect(page.locator(".message")).to_have_count(12)
    page.wait_for_function("() => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 2")


def streaming(page, site):
    page.goto(site.path("/threads/{streaming}"))
    expect(page.locator(".status-pending .reply-text")).to_contain_text("w39")


def thinking(page, site):
    page.goto(site.path("/threads/{thinking}"))
    expect(page.locator(".status-pending .thinking")).to_be_visible()


def thoughts(page, site):
    page.goto(site.path("/threads/{pondered}"))
    page.click(".thoughts summary")
    expect(page.locator(".thoughts .thoughts-text")).to_contain_text("143 = 11 × 13")


def editing(page, site):
    page.goto(site.path("/threads/{branches}"))
    page.locator(".message-user").first.get_by_role("link", name="Edit your message").click()
    expect(page.get_by_label("New version of your message")).to_be_visible()


def fork_form(page, site):
    page.goto(site.path("/threads/{branches}"))
    page.locator(".message-user").first.get_by_role("link", name=re.compile("^Fork")).click()
    expect(page.locator("h1")).to_have_text("Fork this conversation")


STATES = {
    "login": (None, go("/login")),
    "register-with-errors": (None, register_with_errors),
    "projects-empty": (NEWCOMER, go("/")),
    "projects-with-form-error": (EMAIL, project_form_with_error),
    "project": (EMAIL, go("/projects/{billing}")),
    "new-thread-with-error": (EMAIL, thread_form_with_error),
    "thread-empty": (EMAIL, go("/threads/{scratch}")),
    "thread-long": (EMAIL, long_conversation),
    "thread-streaming": (EMAIL, streaming),
    "thread-thinking": (EMAIL, thinking),
    "thread-with-thoughts": (EMAIL, thoughts),
    "thread-failed": (EMAIL, go("/threads/{webhooks}")),
    "thread-stopped": (EMAIL, go("/threads/{queue}")),
    "thread-versions": (EMAIL, go("/threads/{branches}")),
    "thread-editing": (EMAIL, editing),
    "fork": (EMAIL, fork_form),
    "settings": (EMAIL, go("/settings")),
    "search-results": (EMAIL, go("/search?q=invoice")),
    "usage": (EMAIL, go("/usage")),
    "admin": (EMAIL, go("/admin")),
    "confirm-delete": (EMAIL, go("/threads/{scratch}/delete")),
    "not-found": (EMAIL, go("/threads/999999")),
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("state", STATES)
def test_no_serious_accessibility_violations_and_nothing_from_outside(open_page, site, state, scheme):
    """axe-core finds nothing serious or critical; every request stays on the app's own origin."""
    who, bring = STATES[state]
    page = visit(open_page, site, who, color_scheme=scheme)
    bring(page, site)
    assert axe_violations(page) == []
    assert page.request_log.outside(site.url) == []


def test_every_page_and_fragment_is_valid_html(site):
    """The Nu Html Checker, run once on every page and every fragment the site sent: no errors."""
    assert len(site.documents) > 40
    errors = html_check.check(site.documents)
    assert errors == {}, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in errors.items())


def test_static_files_are_versioned_and_cached_for_a_year(open_page, site):
    """Every stylesheet, script and icon has a ?v=<hash> URL, served with a year-long max-age."""
    page = visit(open_page, site, EMAIL)
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(site.path("/threads/{invoices}"))
    expect(page.locator(".message")).to_have_count(12)
    static = [r for r in responses if "/static/" in r.url]
    assert {r.url.split("?")[0].rsplit("/", 1)[1] for r in static} >= {
        "app.css", "pygments.css", "htmx.min.js", "hx-sse.min.js", "app.js", "favicon.svg"}
    for response in static:
        assert re.search(r"\?v=[0-9a-f]{12}$", response.url), response.url
        cache = response.headers["cache-control"]
        assert f"max-age={ONE_YEAR}" in cache and "immutable" in cache, (response.url, cache)
    assert page.request_log.outside(site.url) == []


SHOTS = {"project": go("/projects/{billing}"), "new-thread-error": thread_form_with_error,
         "thread": long_conversation}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots(open_page, site, size, scheme):
    """The project page, the new-thread form with an error and a long conversation, for the README
    and for a person to look at (test-artifacts/screenshots/)."""
    for name, bring in SHOTS.items():
        page = visit(open_page, site, EMAIL, viewport=DESKTOP if size == "desktop" else PHONE,
                     color_scheme=scheme, device_scale_factor=1 if size == "desktop" else 2)
        bring(page, site)
        if name == "new-thread-error" and size == "phone":
            page.locator("#thread-form").scroll_into_view_if_needed()
        path = screenshot(page, f"{name}-{size}-{scheme}")
        assert path.stat().st_size > 10_000


def test_the_message_box_stays_in_reach_on_a_phone(open_page, site):
    """On a phone the composer stays on screen at the foot of a long conversation, wherever one scrolls."""
    page = visit(open_page, site, EMAIL, viewport=PHONE, has_touch=True, is_mobile=True)
    long_conversation(page, site)
    composer = page.locator("#composer textarea")
    expect(composer).to_be_in_viewport()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight / 3)")
    expect(composer).to_be_in_viewport()
    box, height = composer.bounding_box(), PHONE["height"]
    assert box["y"] + box["height"] <= height
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_in_viewport()


def settled_scroll(page) -> float:
    """window.scrollY once a (possibly smooth) scroll has come to rest."""
    return page.evaluate("""async () => {
        let last = -1;
        while (window.scrollY !== last) { last = window.scrollY; await new Promise(r => setTimeout(r, 150)); }
        return last;
    }""")


def at_bottom(page) -> bool:
    return page.evaluate("() => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 2")


def test_a_streaming_reply_keeps_the_view_at_the_bottom_unless_the_reader_scrolled_up(open_page, site):
    """Pinned to the newest text while it streams; a reader who scrolled up is left where they are."""
    page = visit(open_page, site, EMAIL)
    page.goto(site.path("/threads/{pinned}"))
    page.wait_for_function("() => window.scrollY > 0")
    page.fill("#composer textarea", "Tell me everything [[tokens:400]] [[token-delay:0.02]]")
    page.press("#composer textarea", "Enter")
    page.wait_for_function("() => (document.querySelector('.status-pending .reply-text')?.textContent || '')"
                           ".length > 400")
    assert at_bottom(page)
    page.mouse.move(600, 300)
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => window.innerHeight + window.scrollY < document.documentElement.scrollHeight - 200")
    where = settled_scroll(page)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.wait_for_function(f"() => document.documentElement.scrollHeight > {height} + 100")
    assert page.evaluate("() => window.scrollY") == where  # it grew below; the reader stayed put
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".message-assistant").last).to_have_class(re.compile(r"\bstatus-stopped\b"))


def test_the_copy_button_copies_a_code_block(open_page, site):
    """A code block's Copy button puts its code on the clipboard and says so."""
    page = visit(open_page, site, EMAIL, permissions=["clipboard-read", "clipboard-write"])
    long_conversation(page, site)
    block = page.locator(".message-assistant").last.locator(".code-block")
    expect(block.locator(".code-lang")).to_have_text("python")
    expect(block.locator("code .k").first).to_be_visible()  # highlighted on the server
    block.get_by_role("button", name="Copy").click()
    expect(block.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()").startswith("def parse_row(row: dict) -> Invoice:")
