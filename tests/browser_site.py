"""A populated site for the page checks: accounts, projects, threads in every state, and the
HTML of every page and fragment as the server sends it.

Finished conversations are written straight to the database (readable text, no fake-provider
markers in sight for the screenshots); everything that needs a live reply goes through the app.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

from app import create_app
from app.extensions import db
from app.models import COMPLETE, ERROR, STOPPED, Message, UsageTotal, utcnow
from app.services import accounts, workspace
from tests.conftest import TEST_SECRET, _empty_tables
from tests.helpers import link_as_chain, parse_sse
from tests.html_check import fragment_document, split_partials
from tests.live_server import csrf_of

EMAIL = "grace@example.com"
NEWCOMER = "newcomer@example.com"  # has no projects: the empty states
PASSWORD = "correct horse battery"
MODELS = {"anthropic": "claude-sonnet-5-5", "google": "gemini-flash-latest", "deepseek": "deepseek-flash"}

INVOICES = [
    ("I get invoice exports as CSV with the columns id, customer, amount, currency, issued_at. "
     "How do I read them safely in Python?",
     "Use `csv.DictReader` so each row is a dict keyed by the header, and parse amounts as "
     "`Decimal`, never `float`:\n\n```python\nimport csv\nfrom decimal import Decimal\n\n"
     "with open(\"invoices.csv\", newline=\"\", encoding=\"utf-8\") as f:\n"
     "    for row in csv.DictReader(f):\n        amount = Decimal(row[\"amount\"])\n```\n\n"
     "Open the file with `newline=\"\"`: the `csv` module handles line endings itself."),
    ("Some amounts use a comma as the decimal separator, like 12,50.",
     "Normalise before parsing: `Decimal(raw.replace(\",\", \".\"))`. If thousands separators can "
     "appear too (`1.234,50`), strip them first and reject anything that still doesn't parse."),
    ("What about rows with a missing currency?",
     "Don't guess. Three reasonable options:\n\n1. **Reject** the row and report it with its line number.\n"
     "2. **Default** to the customer's billing currency, if you store one.\n"
     "3. **Quarantine** it in a separate file for a person to look at.\n\n"
     "Rejecting is the safest default for money."),
    ("Can you validate the dates too? They look like 2026-11-03T09:15:00Z.",
     "`datetime.fromisoformat` reads that format on Python 3.11 and later, `Z` included. "
     "Check that the result is timezone-aware and not in the future."),
    ("How slow is this for 200k rows?",
     "Fast enough: reading and validating 200,000 rows like these takes about a second on a laptop. "
     "The database inserts will dominate; batch them 1,000 at a time."),
    ("Summarise the rules we settled on, with an example for each case.",
     "Here is the whole parser:\n\n```python\ndef parse_row(row: dict) -> Invoice:\n"
     "    amount = Decimal(row[\"amount\"].replace(\",\", \".\"))\n"
     "    if not row[\"currency\"]:\n        raise RowError(\"missing currency\")\n"
     "    issued = datetime.fromisoformat(row[\"issued_at\"])\n"
     "    return Invoice(row[\"id\"], row[\"customer\"], amount, row[\"currency\"], issued)\n```\n\n"
     "| Case | Example | Result |\n|:---|:---:|---:|\n| Dot decimal | `12.50` | 12.50 |\n"
     "| Comma decimal | `12,50` | 12.50 |\n| No currency | `EUR` missing | rejected |\n"
     "| Bad date | `03/11/2026` | rejected |\n"),
]


@dataclass
class Site:
    """Where things are, and the documents collected for the HTML checker."""

    url: str
    ids: dict[str, int] = field(default_factory=dict)
    logins: dict[str, dict] = field(default_factory=dict)  # email → Playwright storage state
    documents: dict[str, str] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)  # replies left running; stopped at the end

    def path(self, template: str) -> str:
        """A URL on the site, `{name}` filled from ids."""
        return self.url + template.format(**self.ids)


# --- the database -------------------------------------------------------------------------------

def _conversation(thread, exchanges, provider):
    for question, answer in exchanges:
        db.session.add(Message(thread=thread, role="user", content=question, status=COMPLETE))
        db.session.add(Message(thread=thread, role="assistant", content=answer, status=COMPLETE,
                               provider=provider, model=MODELS[provider], input_tokens=40, output_tokens=90))


def seed(database_url: str) -> dict[str, int]:
    """Empty the database and write the accounts, projects and finished threads; their ids."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        _empty_tables()
        user = accounts.create_user(EMAIL, PASSWORD)
        accounts.create_user(NEWCOMER, PASSWORD)
        accounts.create_token(user, "Laptop script")
        workspace.create_project(user, "Trip to Lisbon", "Suggest places within walking distance.")
        sandbox = workspace.create_project(user, "Sandbox", "")
        billing = workspace.create_project(
            user, "Billing service",
            "You help maintain a Python billing service. Prefer short answers with runnable code.")
        threads = {
            "scratch": workspace.create_thread(billing, "Scratch", "anthropic"),
            "queue": workspace.create_thread(billing, "Name the new queue", "deepseek"),
            "webhooks": workspace.create_thread(billing, "Retry policy for webhooks", "anthropic"),
            "invoices": workspace.create_thread(billing, "Parse invoice CSVs", "google"),
            "pinned": workspace.create_thread(sandbox, "Follow a long reply", "google"),
            "streaming": workspace.create_thread(sandbox, "A reply in progress", "deepseek"),
            "thinking": workspace.create_thread(sandbox, "Waiting for the first word", "google"),
            "docs": workspace.create_thread(sandbox, "Fragments", "deepseek"),
            "pondered": workspace.create_thread(sandbox, "A reply that thought first", "deepseek"),
            "branches": workspace.create_thread(sandbox, "Versions and forks", "google"),
        }
        _conversation(threads["invoices"], INVOICES, "google")
        _conversation(threads["pinned"], INVOICES, "google")
        _conversation(threads["branches"], INVOICES[:2], "google")
        db.session.add(Message(thread=threads["webhooks"], role="user", status=COMPLETE,
                               content="How often should we retry a failed webhook delivery?"))
        db.session.add(Message(thread=threads["webhooks"], role="assistant", status=ERROR, content="",
                               provider="anthropic", model=MODELS["anthropic"],
                               error="Anthropic Claude is overloaded (529)."))
        db.session.add(Message(thread=threads["queue"], role="user", status=COMPLETE,
                               content="Suggest names for the queue that sends invoice reminders."))
        db.session.add(Message(thread=threads["queue"], role="assistant", status=STOPPED,
                               content="A few ideas:\n\n- `invoice-reminders`\n- `dunning`\n- `pay",
                               provider="deepseek", model=MODELS["deepseek"]))
        db.session.add(Message(thread=threads["pondered"], role="user", status=COMPLETE,
                               content="Is 1,001 a prime number?"))
        db.session.add(Message(thread=threads["pondered"], role="assistant", status=COMPLETE,
                               content="No: 1,001 = 7 × 11 × 13.", provider="deepseek", model=MODELS["deepseek"],
                               thinking="Try small primes. 1001 / 7 = 143, and 143 = **11 × 13**.",
                               thinking_ms=4200, reasoning_tokens=31, input_tokens=12, output_tokens=48))
        db.session.flush()
        link_as_chain(db.session, [thread.id for thread in threads.values()])
        today = utcnow().date()
        db.session.add_all([UsageTotal(user_id=user.id, day=today - timedelta(days=n), project_id=billing.id,
                                       provider=provider, model=MODELS[provider], replies=n + 1,
                                       input_tokens=1200 * (n + 1), output_tokens=300 * (n + 1),
                                       cost_micros=4500 * (n + 1), updated_at=utcnow())
                            for n, provider in enumerate(("anthropic", "google", "deepseek"))
                            if (today - timedelta(days=n)).month == today.month])
        db.session.commit()
        ids = {"billing": billing.id, "sandbox": sandbox.id, **{name: t.id for name, t in threads.items()}}
        db.session.remove()
        db.engine.dispose()
    return ids


# --- talking to the running app -----------------------------------------------------------------

class Client:
    """The app over HTTP with one browser context's cookies (Playwright's APIRequestContext)."""

    def __init__(self, request, url: str):
        self.request, self.url, self.token = request, url, None

    def get(self, path: str, status: int = 200, htmx: bool = False) -> str:
        response = self.request.get(self.url + path, headers=self._headers(htmx), max_redirects=0)
        assert response.status == status, f"GET {path}: {response.status}"
        return response.text()

    def post(self, path: str, data: dict, status: int = 200, htmx: bool = False):
        if not htmx:
            data = {"csrf_token": self.token, **data}
        response = self.request.post(self.url + path, form=data, headers=self._headers(htmx), max_redirects=0)
        assert response.status == status, f"POST {path}: {response.status} {response.text()[:300]}"
        return response

    def _headers(self, htmx: bool) -> dict:
        return {"HX-Request": "true", "X-CSRFToken": self.token} if htmx else {}

    def log_in(self, email: str) -> None:
        self.token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.get("/login")).group(1)
        self.post("/login", {"email": email, "password": PASSWORD}, status=303)
        self.token = csrf_of(self.get("/"))


def log_in(browser, url: str, email: str) -> dict:
    """The storage state (cookies) of a signed-in browser context."""
    context = browser.new_context()
    try:
        Client(context.request, url).log_in(email)
        return context.storage_state()
    finally:
        context.close()


def pending_reply_id(html: str) -> int:
    """The id of the pending reply on a thread page."""
    found = re.search(r'class="message message-assistant status-pending" id="message-(\d+)"', html)
    assert found, "no pending reply: " + " ".join(re.findall(r'<li class="message [^>]*>|class="message-error">[^<]*', html))
    return int(found.group(1))


def start_reply(client: Client, site: Site, thread: str, text: str) -> int:
    """Post a message as a plain form (the reply runs on in the server); the pending reply's id."""
    client.post(site.path("/threads/{%s}/messages" % thread).removeprefix(site.url), {"content": text}, status=303)
    return pending_reply_id(client.get(f"/threads/{site.ids[thread]}"))


# --- the documents for the HTML checker ---------------------------------------------------------

class Documents:
    """Pages as sent; fragments and SSE events wrapped in a minimal document each."""

    def __init__(self, site: Site):
        self.documents = site.documents

    def page(self, name: str, html: str) -> None:
        assert html.lstrip().lower().startswith("<!doctype html>"), name
        self.documents[f"page: {name}"] = html

    def fragment(self, name: str, html: str) -> None:
        assert "<html" not in html and "<body" not in html, name
        self.documents[f"fragment: {name}"] = fragment_document(split_partials(html), name)

    def stream(self, name: str, body: str, deltas: int = 2) -> None:
        """Every event of a finished stream, but only the first few deltas (they differ only in text)."""
        seen = 0
        events = [event for event in parse_sse(body.split("\n")) if event[0] != "comment"]
        for index, (_event, event_id, data) in enumerate(events):
            if event_id is not None:
                seen += 1
                if seen > deltas:
                    continue
            label = f"{name}, event {index}"
            self.documents[f"sse: {label}"] = fragment_document(split_partials(data), label)


def collect_documents(site: Site, client: Client, anonymous: Client) -> None:
    """Fetch every page in its typical states and every fragment the app sends."""
    docs, ids = Documents(site), site.ids

    docs.page("login", anonymous.get("/login"))
    anonymous.token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                anonymous.get("/login")).group(1)
    docs.page("login with an error", anonymous.post(
        "/login", {"email": EMAIL, "password": "wrong password"}, status=400).text())
    docs.page("register", anonymous.get("/register"))
    docs.page("register with errors", anonymous.post(
        "/register", {"email": "not an email", "password": "short", "confirm": "other"}, status=400).text())

    docs.page("projects", client.get("/"))
    first = client.get("/?limit=1")
    docs.page("projects, first page", first)
    more = re.search(r'data-hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    docs.fragment("more projects", client.get(more, htmx=True))
    docs.fragment("new project with an error", client.post("/projects", {"name": "  "}, 400, htmx=True).text())
    docs.page("new project with an error", client.post("/projects", {"name": "  "}, 400).text())

    billing = f"/projects/{ids['billing']}"
    docs.page("project", client.get(billing))
    first = client.get(billing + "?limit=1")
    more = re.search(r'data-hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    docs.fragment("more threads", client.get(more, htmx=True))
    too_long = {"title": "x" * 201, "model_provider": "google"}
    docs.fragment("new thread with an error", client.post(billing + "/threads", too_long, 400, htmx=True).text())
    docs.page("new thread with an error", client.post(billing + "/threads", too_long, 400).text())
    sandbox = f"/projects/{ids['sandbox']}"
    docs.fragment("edit project with an error", client.post(sandbox + "/edit", {"name": ""}, 400, htmx=True).text())
    docs.fragment("edit project", client.post(sandbox + "/edit", {"name": "Sandbox", "instructions": ""},
                                              htmx=True).text())
    docs.page("delete project", client.get(sandbox + "/delete"))

    for name in ("invoices", "scratch", "webhooks", "queue", "streaming", "thinking", "pondered"):
        docs.page(f"thread {name}", client.get(f"/threads/{ids[name]}"))
    paged = client.get(f"/threads/{ids['invoices']}?limit=4")
    docs.page("thread with earlier messages", paged)
    earlier = re.search(r'data-hx-get="([^"]+)"', paged.split('id="load-earlier"')[1]).group(1)
    docs.fragment("earlier messages", client.get(earlier.replace("&amp;", "&") + "&limit=4", htmx=True))
    docs.page("delete thread", client.get(f"/threads/{ids['scratch']}/delete"))

    thread = f"/threads/{ids['docs']}"
    docs.fragment("rename thread", client.post(thread + "/rename", {"title": "Fragments"}, htmx=True).text())
    docs.fragment("rename thread with an error", client.post(thread + "/rename", {"title": ""}, 400,
                                                             htmx=True).text())
    docs.fragment("model options", client.get("/model-options?model_provider=google", htmx=True))
    docs.fragment("change model", client.post(thread + "/model", {"model": "", "thinking": "y"}, htmx=True).text())
    docs.fragment("change model with an error", client.post(thread + "/model", {"model": "gemini-0"}, 400,
                                                            htmx=True).text())
    docs.fragment("empty message", client.post(thread + "/messages", {"content": " "}, 400, htmx=True).text())
    docs.fragment("message while a reply is pending", client.post(
        f"/threads/{ids['streaming']}/messages", {"content": "And another thing"}, 409, htmx=True).text())
    docs.stream("post", client.post(thread + "/messages", {"content": "Hello [[canned:markdown]]"},
                                    htmx=True).text())
    docs.stream("post with thoughts", client.post(thread + "/messages", {"content": "Think [[think:6]] [[tokens:3]]"},
                                                  htmx=True).text())
    reply = start_reply(client, site, "docs", "Slowly [[tokens:30]] [[token-delay:0.03]]")
    docs.page("thread with a pending reply", client.get(thread))
    docs.stream("watch", client.get(f"/messages/{reply}/stream", htmx=True))
    reply = start_reply(client, site, "docs", "Stop me [[stall-after:3]]")
    client.post(f"/messages/{reply}/stop", {}, 204, htmx=True)
    docs.stream("stopped", client.get(f"/messages/{reply}/stream", htmx=True))
    # Last: the history joins this thread's later messages to the one that failed, marker and all.
    docs.stream("post that fails", client.post(thread + "/messages", {"content": "Hi [[fail:400]]"},
                                               htmx=True).text())
    failed = int(re.findall(r'id="message-(\d+)"', client.get(thread))[-1])
    docs.page("thread with a failed reply", client.get(thread))
    docs.stream("retry", client.post(f"/messages/{failed}/retry", {}, htmx=True).text())

    collect_branch_documents(site, client, docs)
    docs.page("search", client.get("/search"))
    docs.page("search results", client.get("/search?q=invoice&limit=2"))
    docs.page("search with nothing found", client.get("/search?q=nonexistentword"))
    docs.page("search with an error", client.get("/search?q=-only", status=400))
    docs.fragment("search as typed in the header", client.get("/search?q=invoice", htmx=True))
    first = client.get("/search?q=invoice&limit=2")
    more = re.search(r'id="more-results-[^"]+">\s*<a href="([^"]+)"', first).group(1).replace("&amp;", "&")
    docs.fragment("more search results", client.get(more, htmx=True))

    client.post("/settings", {"name": "CI"}, 200)
    docs.page("settings", client.get("/settings"))
    docs.page("settings with a new token", client.post("/settings", {"name": "Deploy"}).text())
    docs.page("usage", client.get("/usage"))
    docs.page("admin", client.get("/admin"))
    docs.page("admin with an error", client.post("/admin/settings", {"registration": "open",
                                                                      "default_budget": "-1"}, 400).text())
    docs.page("not found", client.get("/threads/999999", status=404))
    docs.fragment("not found", client.get("/threads/999999", status=404, htmx=True))


def wait_for_replies(client: Client, path: str) -> str:
    """The page once no reply on it is pending."""
    for _ in range(100):
        html = client.get(path)
        if "data-hx-sse-connect" not in html:
            return html
        time.sleep(0.05)
    raise AssertionError(f"{path}: a reply is still pending")


def collect_branch_documents(site: Site, client: Client, docs: Documents) -> None:
    """The states of a thread with versions: editing, switching, regenerating, deleting and forking."""
    thread = f"/threads/{site.ids['branches']}"
    first, first_reply, *_ = [int(i) for i in re.findall(r'id="message-(\d+)"', client.get(thread))]
    edit = f"/messages/{first}/edit"
    docs.page("edit message", client.get(edit))
    docs.fragment("edit message", client.get(edit, htmx=True))
    docs.fragment("edit message with an error", client.post(edit, {"content": " "}, 400, htmx=True).text())
    docs.page("edit message with an error", client.post(edit, {"content": " "}, 400).text())
    docs.fragment("edited message", client.post(edit, {"content": "Read them with the csv module?"},
                                                htmx=True).text())
    docs.page("thread with versions", wait_for_replies(client, thread))
    docs.fragment("switch version", client.post(thread + "/head", {"message_id": str(first)}, htmx=True).text())
    docs.fragment("regenerated reply", client.post(f"/messages/{first_reply}/regenerate", {}, htmx=True).text())
    docs.page("thread with versions of a reply", wait_for_replies(client, thread))
    docs.page("delete message", client.get(f"/messages/{first_reply}/delete"))
    docs.page("fork", client.get(f"/messages/{first_reply}/fork"))
    docs.page("fork with an error", client.post(f"/messages/{first_reply}/fork", {
        "model_provider": "google", "model": "no-such-model", "project_id": str(site.ids["sandbox"]),
        "title": "Forked"}, 400).text())
    forked = client.post(f"/messages/{first}/fork", {"model_provider": "deepseek", "model": "",
                                                     "project_id": str(site.ids["sandbox"]), "title": "Forked"},
                         303).headers["location"]
    docs.page("forked thread", wait_for_replies(client, forked.removeprefix(site.url)))
    docs.fragment("deleted message", client.post(f"/messages/{first_reply}/delete", {}, htmx=True).text())
