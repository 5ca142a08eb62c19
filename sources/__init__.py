"""Sources: where documents come from, and the readers that turn files into them."""

from __future__ import annotations

from config import SourceSettings
from sources.base import (
    Document,
    DocumentRef,
    Segment,
    Source,
    content_hash,
    normalise_text,
)
from sources.documents import DocumentSource
from sources.transcripts import TranscriptSource


def open_source(settings: SourceSettings) -> Source:
    """The reader of a configured source, chosen by its kind.

    Raises ConfigError when the source's folder does not exist.
    """
    if settings.kind == "transcripts":
        return TranscriptSource(settings)
    return DocumentSource(settings)


__all__ = [
    "Document",
    "DocumentRef",
    "DocumentSource",
    "Segment",
    "Source",
    "TranscriptSource",
    "content_hash",
    "normalise_text",
    "open_source",
]
