"""Debian's Chromium driven by Playwright, for tests that use the app as a person does.

Also the checks that run inside the page: axe-core (from `node_modules`, installed by `make browser-deps`)
and a log of every request a page makes.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"


def require_tool(present: bool, message: str) -> None:
    """Skip on a laptop without the tool; fail under CI, where `make test` installs it."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_chromium() -> None:
    """Debian's Chromium, or skip (fail under CI)."""
    require_tool(os.path.exists(CHROMIUM) and bool(shutil.which("chromium")),
                 f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium package.")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the module."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh browser context and page at desktop size."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def open_page(browser):
    """Open pages in fresh contexts (viewport, color scheme, JavaScript, login state…); all closed afterwards."""
    contexts = []

    def open_(**options):
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


class RequestLog:
    """Every request a browser context makes, to prove a page needs nothing from outside the app."""

    def __init__(self, context):
        self.requests = []
        context.on("request", self._record)

    def _record(self, request) -> None:
        self.requests.append(request)

    def outside(self, origin: str) -> list[str]:
        """URLs of requests that went anywhere but `origin` (data: and blob: URLs stay in the page)."""
        return [r.url for r in self.requests
                if urlsplit(r.url).scheme not in ("data", "blob") and not r.url.startswith(origin + "/")]


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core on the page as it is now; one line per violation of the given impacts."""
    require_tool(AXE_JS.exists(), f"{AXE_JS} is missing: `make browser-deps` installs the npm packages.")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> would be blocked).
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text())
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" "))}));
    }""")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'][:5])}"
            for v in violations if v["impact"] in impacts]


def screenshot(page, name: str) -> Path:
    """Save what the viewport shows as test-artifacts/screenshots/<name>.png (git-ignored)."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
