"""Benchmark descriptions: markdown rendered to HTML, then sanitised with nh3 so that an author's
text can carry no script, event handler or raw HTML beyond a small allow-list."""

from __future__ import annotations

import re

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


# A bare http(s) URL in running text (not already a markdown link's target or an <autolink>):
# made clickable, as people paste "Paper: https://arxiv.org/abs/..." and expect a link.
_BARE_URL = re.compile(r"(?<![(<\[\w\"'=/])(https?://[^\s<>()\[\]\"'`]+[^\s<>()\[\]\"'`.,;:!?])")


def _autolink(text: str) -> str:
    # Leave code alone: fenced blocks and inline code keep their text as written.
    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.DOTALL)
    return "".join(
        part if index % 2 else _BARE_URL.sub(r"<\1>", part) for index, part in enumerate(parts)
    )


def render_markdown(text: str) -> SafeString:
    html = markdown_lib.markdown(_autolink(text or ""), extensions=EXTENSIONS)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    # nh3 has removed everything outside the allow-list, so the result is safe to embed.
    return mark_safe(clean)  # noqa: S308
