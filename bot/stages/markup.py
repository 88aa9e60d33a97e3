"""The text of HTML, as an email body or an attached statement shows it: table cells by tabs,
rows by lines, in time linear in the markup whatever it holds (Python's parser is quadratic on
unclosed tags, and gives up on some declarations)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _TextOfHtml(HTMLParser):
    """Text of an HTML body. Table cells are separated by a tab and rows by a newline, so a table
    keeps its columns; breaks inside a cell ("81234567<br>81234568") become spaces, so a cell
    stays on its row."""

    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})
    _CELL = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._cells = 0  # depth of open table cells

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head"}:
            self._skip += 1
        elif tag in self._CELL:
            self.parts.append(_CELL_START)
            self._cells += 1
        elif tag in self._BLOCK:
            self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head"}:
            self._skip = max(0, self._skip - 1)
        elif tag in self._CELL:
            self._cells = max(0, self._cells - 1)
        elif tag in self._BLOCK:
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def _break(self, tag: str) -> None:
        inside_cell = self._cells and tag not in {"tr", "table"}
        self.parts.append(" " if inside_cell else "\n")
        if tag in {"tr", "table"}:
            self._cells = 0


# Marks where a table cell starts; a private-use character, so it never comes from the mail itself.
_CELL_START = "\ue000"


# More markup than this is no client's letter (Outlook's HTML runs about ten times its text).
MAX_MARKUP = 2_000_000
# A "<" with another "<" before any ">" opens no tag; Python's HTML parser rescans from each
# one (quadratic: "<a" x 500,000 took 8 minutes), so it is made text first, in one pass.
_UNCLOSED = re.compile(r"<(?=[^<>]*<)")
_TAG = re.compile(r"<[^<>]*>")


def html_to_text(markup: str) -> str:
    """The text of an HTML body or file, in time linear in its length whatever it holds."""
    markup = _UNCLOSED.sub("&lt;", markup[:MAX_MARKUP].replace(_CELL_START, ""))
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):
        # Markup the parser gives up on ("<![ foo"): its text without the tags.
        parser.parts = [_TAG.sub(" ", markup)]
    lines = (_line(line) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line.strip())


def _line(line: str) -> str:
    """One line with runs of white space made single spaces, and its table cells joined by tabs
    (an empty cell is kept, so the cells after it stay in their columns)."""
    before, *cells = (" ".join(part.split()) for part in line.split(_CELL_START))
    return "\t".join(([before] if before else []) + cells)
