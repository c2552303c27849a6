"""The Nu Html Checker (npm `vnu-jar`, run with the machine's Java) over pages and fragments.

Pages are checked as the server sent them. A fragment (an htmx answer, or the HTML an SSE event
carries) is wrapped in a minimal document first, inside the element it is swapped into (`<li>` items
into an `<ol>`), so the checker judges it as the browser will see it.

`<hx-partial>` is htmx's own envelope, not page markup: htmx takes it apart and never puts it into
the page. So each partial is unwrapped and its content checked as a fragment of its own; what
`hx-partial` itself carries (target and swap) is checked by the chat tests, not here.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

from tests.browser import ROOT, require_tool

VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
PARTIAL = re.compile(r'<hx-partial\b([^>]*)>(.*?)</hx-partial>', re.S)
FIRST_TAG = re.compile(r"\s*<([a-zA-Z][a-zA-Z0-9-]*)")
# The element a fragment goes into, by its first tag.
CONTAINERS = {"li": ("<ol>", "</ol>"), "tr": ("<table><tbody>", "</tbody></table>")}


def split_partials(html: str) -> list[str]:
    """The contents of each `<hx-partial>` in an SSE event's data, or the data itself when it has none."""
    parts = [inner for _attrs, inner in PARTIAL.findall(html)]
    if not parts:
        return [html]
    assert not PARTIAL.sub("", html).strip(), f"text outside the partials: {html[:200]!r}"
    return parts


def fragment_document(fragments: list[str], name: str) -> str:
    """A minimal valid document around fragments, each inside the element it would be swapped into.

    The fragments of one answer (one SSE event's partials) share a document, as they share the page.
    """
    body = []
    for fragment in fragments:
        match = FIRST_TAG.match(fragment)
        opening, closing = CONTAINERS.get(match.group(1).lower() if match else "", ("<div>", "</div>"))
        body.append(f"{opening}\n{fragment}\n{closing}")
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Fragment: {escape(name)}</title></head>\n<body>{''.join(body)}</body></html>\n")


def require_vnu() -> None:
    """Java and the checker's jar, or skip (fail under CI)."""
    require_tool(bool(shutil.which("java")),
                 "java is missing: `make browser-deps` installs Debian's default-jre-headless.")
    require_tool(VNU_JAR.exists(), f"{VNU_JAR} is missing: `make browser-deps` installs the npm packages.")


def check(documents: dict[str, str]) -> dict[str, list[str]]:
    """Run the checker once on every document; {name: [error, …]} for each that has errors."""
    require_vnu()
    with tempfile.TemporaryDirectory(prefix="vnu-") as folder:
        paths = {}
        for index, (name, html) in enumerate(documents.items()):
            path = Path(folder) / f"{index:03d}.html"
            path.write_text(html, encoding="utf-8")
            paths[str(path.resolve())] = name
        done = subprocess.run(
            ["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--stdout", *sorted(paths)],
            capture_output=True, text=True, timeout=300,
        )
    try:
        messages = json.loads(done.stdout)["messages"]
    except (ValueError, KeyError):
        raise AssertionError(f"vnu failed (exit {done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    errors: dict[str, list[str]] = {}
    for message in messages:
        url = message.get("url", "?")
        name = paths.get(re.sub(r"^file:/+", "/", url), url)
        where = f"line {message.get('lastLine', '?')}"
        errors.setdefault(name, []).append(f"{where}: {message['message']} [{message.get('extract', '').strip()}]")
    return errors
