"""Text from outside (names other users or partners gave live objects, vendor messages, history
entries) made harmless for where it is written. Used by every renderer; never changes data.

- :func:`terminal`: control characters (C0 but newline and tab, DEL, C1, and the bidirectional
  overrides of "Trojan source") become visible escapes such as ``\\x1b``, so a name cannot move
  the cursor, retitle the window, hide text or reorder what a terminal shows. ``single_line``
  escapes newlines and tabs too (a table cell).
- :func:`spreadsheet`: a CSV cell that a spreadsheet would run as a formula (it starts with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``, as OWASP
  recommends against CSV injection.
- :func:`markdown_html`: for text inside an HTML block of a Markdown comment (a ``<summary>``):
  HTML-escaped, on one line, ``@`` broken so that nobody is mentioned.
- :func:`markdown_inline`: for Markdown text (a list item, a table cell, a quote): the same, and
  the Markdown that could change the comment's structure backslash-escaped (brackets of links and
  images, backticks, table bars, a heading, list or quote marker at the start), so it cannot add
  a heading, a link, an image or a table column, nor close the ``<details>`` around it. Other
  punctuation stays as it is, so names and field paths read (and grep) as written.
"""

from __future__ import annotations

import html
import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_SPACE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`\[\]])")
_BLOCK_MARKER = re.compile(r"^(\s*(?:\d+)?)([#+\-*=.)])")  # ">" is escaped as &gt;
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")
ZERO_WIDTH_SPACE = "&#8203;"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str, *, single_line: bool = False) -> str:
    """``text`` with control characters shown as escapes (newlines and tabs too if ``single_line``)."""
    return (_CONTROL_OR_SPACE if single_line else _CONTROL).sub(_escape, text)


def spreadsheet(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _one_line(text: str) -> str:
    return terminal(_NEWLINES.sub(" ", text))


def markdown_html(text: str) -> str:
    """Text for an HTML block in Markdown: escaped, one line, no @mention."""
    return html.escape(_one_line(text)).replace("@", "@" + ZERO_WIDTH_SPACE)


def markdown_inline(text: str) -> str:
    """Text for Markdown: escaped, one line, no @mention, no Markdown syntax of its own."""
    flat = _one_line(text)
    escaped = _BLOCK_MARKER.sub(r"\1\\\2", _MARKDOWN_PUNCTUATION.sub(r"\\\1", flat))
    return html.escape(escaped).replace("|", "&#124;").replace("@", "@" + ZERO_WIDTH_SPACE)
