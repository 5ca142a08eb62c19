"""What every source yields: document references, documents and their segments."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


def normalise_text(text: str) -> str:
    """NFC form, so equal text written with other code points hashes the same."""
    return unicodedata.normalize("NFC", text)


def content_hash(text: str) -> str:
    """sha256 of the NFC-normalised text, as hex."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DocumentRef:
    """A document as listed by a source, before it is read.

    Small and picklable: this is what Prefect tasks pass around. ``paths`` are
    absolute; ``modified`` is a POSIX timestamp (file time, or upload date where a
    source knows it) used by ``--since``.
    """

    source: str
    document_id: str
    paths: tuple[str, ...]
    modified: float


@dataclass(frozen=True)
class Segment:
    """A piece of a document's text with its place: seconds, or a heading path."""

    text: str
    start: float | None = None
    end: float | None = None
    heading_path: tuple[str, ...] = ()


@dataclass
class Document:
    """One item from a source, read and normalised, ready to be chunked.

    ``metadata`` must be JSON-safe: it goes into every point's payload.
    ``warnings`` are things a reader recovered from (a wrong charset, bad front
    matter); they are logged and reported, and the document is still indexed.
    ``content_hash`` covers everything that ends up in a point: the text, each
    segment's place (a renamed heading changes the chunk text), the title, the url
    and the metadata; not the document id, so equal files at two paths hash equal.
    """

    source: str
    document_id: str
    kind: str
    title: str
    url: str | None
    segments: list[Segment]
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""

    def __post_init__(self) -> None:
        self.segments = [
            Segment(normalise_text(s.text), s.start, s.end, s.heading_path)
            for s in self.segments
            if s.text.strip()
        ]
        if not self.content_hash:
            self.content_hash = content_hash(self._canonical())

    @property
    def text(self) -> str:
        return "\n".join(segment.text for segment in self.segments)

    @property
    def empty(self) -> bool:
        return not self.segments

    def _canonical(self) -> str:
        # Raises TypeError for metadata that is not JSON-safe: a reader's bug,
        # better caught here than when the payload is sent.
        content = {
            "title": self.title,
            "url": self.url,
            "metadata": self.metadata,
            "segments": [
                [s.text, s.start, s.end, list(s.heading_path)] for s in self.segments
            ],
        }
        return json.dumps(content, ensure_ascii=False, sort_keys=True)


class Source(Protocol):
    """A place documents come from. ``scan`` is cheap; ``load`` reads one document.

    ``load`` raises :class:`qdrant_rebuild.errors.SourceError` for an input that
    cannot be read, decoded or parsed; the caller records it as rejected.
    """

    name: str

    def scan(self) -> Iterator[DocumentRef]: ...

    def load(self, ref: DocumentRef) -> Document: ...
