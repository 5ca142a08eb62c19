"""Knowledge documents in a folder (Markdown, MDX, text, HTML), id = relative path.

Byte-identical files at two paths are two documents with equal content hashes: parity
counts documents by id, so it counts them as two on both sides.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from config import SourceSettings
from qdrant_rebuild.errors import SourceError
from sources.base import Document, DocumentRef, Segment
from sources.files import modified_time, read_bytes, source_root, walk
from sources.markdown import parse_markdown
from sources.text import clean_characters, collapse_spaces, decode
from sources.webpage import declared_charset, parse_html

logger = logging.getLogger(__name__)

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "mdx",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
}

_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s")


class DocumentSource:
    """A folder of ``.md``, ``.mdx``, ``.txt`` and ``.html`` files.

    Text is UTF-8 (a BOM is fine), else cp1252 with a warning. An HTML page that
    declares another charset but is valid UTF-8 is read as UTF-8, with a warning.
    """

    kind = "documents"

    def __init__(self, settings: SourceSettings) -> None:
        self.name = settings.name
        self.root = source_root(settings)
        self.include = settings.include
        self.exclude = settings.exclude

    def scan(self) -> Iterator[DocumentRef]:
        """One reference per file of a known extension, in path order."""
        for relative, path in walk(self.root, self.include, self.exclude):
            if path.suffix.lower() in FORMATS:
                yield DocumentRef(
                    source=self.name,
                    document_id=relative,
                    paths=(str(path),),
                    modified=modified_time(path),
                )

    def load(self, ref: DocumentRef) -> Document:
        """Read one file; SourceError for binary content or an unreadable file."""
        path = Path(ref.paths[0])
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(str(path), f"unknown document type {path.suffix!r}")
        data = read_bytes(path)
        try:
            decoded = decode(data, declared_charset(data) if fmt == "html" else None)
        except ValueError as exc:
            raise SourceError(str(path), str(exc)) from exc
        if decoded.encoding != "utf-8":
            logger.warning("%s: read as %s, not UTF-8", path, decoded.encoding)
        warnings = list(decoded.warnings)
        metadata: dict[str, object] = {"format": fmt}
        text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")

        # Sections and a title, by format.
        title: object = None
        if fmt == "html":
            page = parse_html(text)
            sections, title = page.sections, page.title or page.first_heading
        elif fmt == "text":
            sections = plain_sections(text)
            title = next((s.heading_path[0] for s in sections if s.heading_path), None)
        else:
            parsed = parse_markdown(text)
            sections = parsed.sections
            warnings += parsed.warnings
            if parsed.front_matter:
                metadata["front_matter"] = parsed.front_matter
            title = parsed.front_matter.get("title") or parsed.first_heading
        for warning in warnings:
            logger.debug("%s: %s", path, warning)
        return Document(
            source=self.name,
            document_id=ref.document_id,
            kind="document",
            title=collapse_spaces(clean_characters(str(title or path.name))),
            url=None,
            segments=[_clean(section) for section in sections],
            metadata=metadata,
            warnings=warnings,
        )


def plain_sections(text: str) -> list[Segment]:
    """Paragraphs of a plain text, hard-wrapped lines joined, under their titles.

    A line underlined with ``===`` or ``---`` is a title, as in Markdown. List items
    stay on lines of their own.
    """
    sections: list[Segment] = []
    path: tuple[str, ...] = ()
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", clean_characters(text)):
        lines = [line for line in block.split("\n") if line.strip()]
        if len(lines) == 2 and _UNDERLINE.match(lines[1]):
            if paragraphs:
                sections.append(Segment("\n\n".join(paragraphs), heading_path=path))
                paragraphs = []
            title = collapse_spaces(lines[0])
            path = (title,) if lines[1].strip()[0] == "=" else (*path[:1], title)
            continue
        joined: list[str] = []
        for line in lines:
            if joined and not _LIST_ITEM.match(line):
                joined[-1] += " " + collapse_spaces(line)
            else:
                joined.append(collapse_spaces(line))
        if joined:
            paragraphs.append("\n".join(joined))
    if paragraphs:
        sections.append(Segment("\n\n".join(paragraphs), heading_path=path))
    return sections


def _clean(section: Segment) -> Segment:
    return Segment(
        clean_characters(section.text),
        heading_path=tuple(
            collapse_spaces(clean_characters(h)) for h in section.heading_path
        ),
    )
