"""HTML pages to sections with the standard library's parser.

Text a reader of the page does not read as content is left out: scripts, styles,
navigation, page header and footer, and elements marked ``hidden``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from sources.base import Segment
from sources.text import collapse_spaces

_SKIPPED = frozenset(
    {"script", "style", "nav", "header", "footer", "noscript", "template", "svg"}
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "details", "div", "dl"}
    | {"dt", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"hr", "li", "main", "ol", "p", "pre", "section", "summary", "table", "tr"}
    | {"ul", "br", "body", "caption", "title", "head", "html"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


@dataclass
class Page:
    """What an HTML page says: its title, first heading and sections."""

    title: str | None = None
    first_heading: str | None = None
    sections: list[Segment] = field(default_factory=list)


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in a meta tag within its first 4 KiB."""
    match = _CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def parse_html(text: str) -> Page:
    """Title and sections of an HTML text; headings h1-h6 make the heading path."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    reader.finish_section()
    return reader.page


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.line: list[str] = []
        self.skip: tuple[str, int] | None = None
        self.heading: tuple[int, list[str]] | None = None
        self.in_title = False
        self.title: list[str] = []
        self.pre = 0
        self.cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip is not None:
            name, depth = self.skip
            # An unclosed hidden <p> ends where the next block begins, as in HTML.
            if name == "p" and tag in _BLOCK:
                self.skip = None
            elif tag == name and tag not in _VOID:
                self.skip = (name, depth + 1)
                return
            else:
                return
        attributes = dict(attrs)
        hidden = "hidden" in attributes or attributes.get("aria-hidden") == "true"
        if tag in _SKIPPED or hidden:
            if tag not in _VOID:
                self.skip = (tag, 1)
            return
        if tag == "title":
            self.in_title = True
        elif tag in _HEADINGS:
            self.end_line()
            self.heading = (_HEADINGS[tag], [])
        elif tag == "pre":
            self.end_line()
            self.pre += 1
        elif tag in ("td", "th"):
            if self.cells:
                self.line.append(" | ")
            self.cells += 1
        elif tag in _BLOCK:
            self.end_line()

    def handle_endtag(self, tag: str) -> None:
        if self.skip is not None:
            name, depth = self.skip
            if tag == name:
                self.skip = (name, depth - 1) if depth > 1 else None
            return
        if tag == "title":
            self.in_title = False
            self.page.title = collapse_spaces("".join(self.title)) or None
        elif tag in _HEADINGS and self.heading is not None:
            self.start_section(
                self.heading[0], collapse_spaces("".join(self.heading[1]))
            )
            self.heading = None
        elif tag == "pre":
            self.end_line()
            self.pre = max(0, self.pre - 1)
        elif tag in _BLOCK:
            self.end_line()

    def handle_data(self, data: str) -> None:
        if self.skip is not None:
            return
        if self.in_title:
            self.title.append(data)
        elif self.heading is not None:
            self.heading[1].append(data)
        elif self.pre:
            lines = data.split("\n")
            for index, piece in enumerate(lines):
                if index:
                    self.end_line(keep_spaces=True)
                self.line.append(piece)
        else:
            self.line.append(data)

    def end_line(self, keep_spaces: bool = False) -> None:
        text = "".join(self.line)
        text = text.rstrip() if keep_spaces or self.pre else collapse_spaces(text)
        if text.strip():
            self.blocks.append(text)
        self.line = []
        self.cells = 0

    def start_section(self, level: int, words: str) -> None:
        self.finish_section()
        if not words:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, words))
        self.page.first_heading = self.page.first_heading or words

    def finish_section(self) -> None:
        self.end_line()
        if self.blocks:
            path = tuple(words for _, words in self.stack)
            self.page.sections.append(
                Segment("\n".join(self.blocks), heading_path=path)
            )
        self.blocks = []
