"""Model output as safe HTML: Markdown, code highlighted on the server, then an allow-list sanitizer."""
from __future__ import annotations

from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.token import STANDARD_TYPES

# Longer code is shown unhighlighted: some lexers backtrack badly on hostile input.
HIGHLIGHT_MAX_CHARS = 50_000

# Every alias of a built-in Pygments lexer → its first alias, used in the class name.
# Plugins are left out so the lookup and the sanitizer's class list always agree.
_CANONICAL_LANGUAGE = {
    alias: aliases[0]
    for _name, aliases, _filenames, _mimetypes in get_all_lexers(plugins=False)
    if aliases
    for alias in aliases
}
_ALIGN_CLASSES = {"align-left", "align-center", "align-right"}

_formatter = HtmlFormatter(nowrap=True)


def _alignment_as_class(state: StateCore) -> None:
    """Turn the table cells' `style="text-align:…"` into an `align-…` class (no style attributes)."""
    for token in state.tokens:
        if token.type not in ("th_open", "td_open"):
            continue
        style = str(token.attrs.pop("style", ""))
        align = style.removeprefix("text-align:")
        if f"align-{align}" in _ALIGN_CLASSES:
            token.attrSet("class", f"align-{align}")


def _highlighted(code: str, language: str | None) -> str:
    """The code as HTML: Pygments spans for a known language, plain escaped text otherwise."""
    if language is None or len(code) > HIGHLIGHT_MAX_CHARS:
        return escapeHtml(code)
    return highlight(code, get_lexer_by_name(language), _formatter)


def _render_fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A fenced block as a code block with a language label and a copy button (wired in static JS)."""
    token = tokens[idx]
    info = unescapeAll(token.info).split(maxsplit=1)
    word = info[0] if info else ""
    language = _CANONICAL_LANGUAGE.get(word.lower())
    code_class = f' class="language-{language}"' if language else ""
    return (
        '<div class="code-block"><div class="code-head">'
        f'<span class="code-lang">{escapeHtml(word or "text")}</span>'
        '<button type="button" class="copy-button" data-copy>Copy</button></div>'
        f"<pre><code{code_class}>{_highlighted(token.content, language)}</code></pre></div>\n"
    )


def _render_image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """An image as a link to it: model output never makes the browser fetch anything by itself."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    label = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escapeHtml(src)}">{escapeHtml(label)}</a>'


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_md.core.ruler.push("alignment_as_class", _alignment_as_class)
_md.add_render_rule("fence", _render_fence)
_md.add_render_rule("image", _render_image)

_cleaner = nh3.Cleaner(
    tags={
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "blockquote", "pre", "code",
        "em", "strong", "s", "del", "a",
        "table", "thead", "tbody", "tr", "th", "td",
        "div", "span", "button",
    },
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "button": {"data-copy"}},
    tag_attribute_values={"button": {"type": {"button"}}},
    allowed_classes={
        "div": {"code-block", "code-head"},
        "span": {"code-lang", *filter(None, STANDARD_TYPES.values())},
        "button": {"copy-button"},
        "code": {f"language-{language}" for language in _CANONICAL_LANGUAGE.values()},
        "th": _ALIGN_CLASSES,
        "td": _ALIGN_CLASSES,
    },
    url_schemes={"http", "https", "mailto"},
    # A relative link in model output would point into this app: drop it.
    url_relative="deny",
    link_rel="noopener noreferrer nofollow",
)


def render_markdown(text: str) -> Markup:
    """Render model output (Markdown) to sanitized HTML, safe to insert into a page as is."""
    return Markup(_cleaner.clean(_md.render(text)))
