"""Model output renders as Markdown with highlighted code, and never as live markup."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from app.markdown import HIGHLIGHT_MAX_CHARS, render_markdown

pytestmark = pytest.mark.once

ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "ol": {"start"},
    "div": {"class"}, "span": {"class"}, "code": {"class"}, "th": {"class"}, "td": {"class"},
    "button": {"type", "class", "data-copy"},
}
ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
    "em", "strong", "s", "del", "table", "thead", "tbody", "tr", *ALLOWED_ATTRIBUTES,
}
LIVE_TAGS = {
    "script", "iframe", "frame", "form", "svg", "math", "img", "object", "embed", "style",
    "link", "meta", "base", "input", "textarea", "template", "details", "video", "audio",
}
SAFE_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnError=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1) )",
    "[x](java&#09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](\x01javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](file:///etc/passwd)",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x" onerror="alert(1)](https://example.com/x.png)',
    '[x](https://example.com "t\\" onmouseover=\\"alert(1)")',
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<a href="javascript:alert(1)">x</a>',
    "<a href='&#106;avascript:alert(1)'>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "<form action=javascript:alert(1)><button>x</button></form>",
    '<button formaction="javascript:alert(1)">x</button>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<style>*{background:url(javascript:alert(1))}</style>",
    "<details open ontoggle=alert(1)>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:/>",
    "<!-- --><script>alert(1)</script>",
    "<div hx-get=/logout data-hx-trigger=load>x</div>",
    '<hx-partial hx-target="body" hx-swap="outerHTML">owned</hx-partial>',
    "[x](https://example.com \"<hx-partial hx-post='/x' hx-trigger='load'>\")",
    "`<script>alert(1)</script>`",
    '```"><script>alert(1)</script>\nx\n```',
    "```python onload=alert(1)\nx\n```",
    "```<img src=x onerror=alert(1)>\nx\n```",
    "| <script>alert(1)</script> | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
    "> <script>alert(1)</script>\n> [x](javascript:alert(1))",
    "- <svg onload=alert(1)>\n- [x](data:text/html,x)",
]


class _Elements(HTMLParser):
    """Every element of an HTML fragment, as (tag, attributes) with attribute values unescaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Parse `html` with the standard library and list its elements."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see: control characters and whitespace removed, lower-cased."""
    cleaned = re.sub(r"[\x00-\x20\x7f-\x9f]", "", url).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", cleaned)
    return match.group(1) if match else None


def assert_inert(html: str) -> None:
    """No element, attribute or URL in `html` can run script, load anything or style the page."""
    # htmx rewrites "<hx-…" in a response's raw text before parsing it, attribute values included.
    assert "<hx-" not in html.lower()
    for tag, attrs in elements(html):
        assert tag not in LIVE_TAGS
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()), (tag, name)
            if name == "href":
                assert url_scheme(value or "") in SAFE_SCHEMES, value
        if tag == "a":
            assert attrs.get("rel") == LINK_REL


def test_render_returns_markup():
    assert isinstance(render_markdown("*hi*"), Markup)


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""


def test_headings_and_emphasis_render():
    html = render_markdown("# One\n\n### Three\n\n*em* **strong** ~~gone~~ `code`")
    assert "<h1>One</h1>" in html
    assert "<h3>Three</h3>" in html
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<s>gone</s>" in html
    assert "<code>code</code>" in html


def test_lists_render_and_keep_their_start():
    html = render_markdown("- a\n- b\n\n3. c\n4. d\n")
    assert "<ul>\n<li>a</li>\n<li>b</li>\n</ul>" in html
    assert '<ol start="3">' in html


def test_table_renders_with_alignment_as_a_class():
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    assert "<table>" in html and "<thead>" in html and "<tbody>" in html
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-center">2</td>' in html
    assert '<td class="align-right">3</td>' in html
    assert "style" not in html


def test_fenced_python_is_highlighted_inside_a_code_block_with_a_copy_button():
    html = render_markdown('```python\ndef f():\n    return "x"\n```\n')
    assert html.startswith(
        '<div class="code-block"><div class="code-head"><span class="code-lang">python</span>'
        '<button type="button" class="copy-button" data-copy="">Copy</button></div>'
        '<pre><code class="language-python">'
    )
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert html.rstrip().endswith("</code></pre></div>")


def test_language_alias_uses_the_lexers_first_name():
    html = render_markdown("```py\nx = 1\n```\n")
    assert '<span class="code-lang">py</span>' in html
    assert '<code class="language-python">' in html


def test_unknown_language_is_plain_escaped_text_with_its_label():
    html = render_markdown("```nosuchlang\na <b> & c\n```\n")
    assert '<span class="code-lang">nosuchlang</span>' in html
    assert "<pre><code>a &lt;b&gt; &amp; c\n</code></pre>" in html


def test_fence_without_language_is_plain_text():
    html = render_markdown("```\nprint('x')\n```\n")
    assert '<span class="code-lang">text</span>' in html
    assert "<pre><code>print('x')\n</code></pre>" in html
    assert "<span class=\"k\">" not in html


def test_code_too_long_to_highlight_is_plain_text():
    code = "x = 1\n" * (HIGHLIGHT_MAX_CHARS // 6 + 1)
    html = render_markdown(f"```python\n{code}```\n")
    assert '<code class="language-python">x = 1\n' in html
    assert "<span class=" not in html.split("<pre>", 1)[1]


def test_code_is_escaped_inside_highlighted_blocks():
    html = render_markdown('```html\n<script>alert(1)</script>\n```\n')
    assert "<script>" not in html
    assert "&lt;" in html
    assert_inert(html)


def test_safe_links_keep_their_href_and_get_rel():
    html = render_markdown("[a](https://example.com/x?y=1) [m](mailto:me@example.com) <http://example.org>")
    hrefs = [attrs["href"] for tag, attrs in elements(html) if tag == "a"]
    assert hrefs == ["https://example.com/x?y=1", "mailto:me@example.com", "http://example.org"]
    assert_inert(html)


def test_relative_links_lose_their_href():
    html = render_markdown("[in app](/settings) [here](#top)")
    assert [attrs.get("href") for tag, attrs in elements(html) if tag == "a"] == [None, None]


def test_image_becomes_a_link_to_it():
    html = render_markdown("![a *cat*](https://example.com/cat.png)")
    assert elements(html) == [
        ("p", {}),
        ("a", {"href": "https://example.com/cat.png", "rel": LINK_REL}),
    ]
    assert ">a cat</a>" in html


def test_raw_html_is_shown_as_text():
    html = render_markdown("<b>bold</b> <script>alert(1)</script>")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_never_renders_live(payload):
    assert_inert(render_markdown(payload))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_stays_inert_inside_surrounding_markdown(payload):
    assert_inert(render_markdown(f"# Title\n\nSome *text* and\n{payload}\n\n- item {payload}\n"))


@pytest.mark.parametrize("scheme_trick", [
    "javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)", "\x00javascript:x",
    "data:text/html,x", "https://example.com",
])
def test_url_scheme_helper_sees_what_a_browser_sees(scheme_trick):
    # The checker must itself be right, or the payload tests prove nothing.
    expected = "https" if scheme_trick.startswith("https") else ("data" if "data" in scheme_trick else "javascript")
    assert url_scheme(scheme_trick) == expected
