"""Point ids and payloads: what one chunk becomes in Qdrant.

Ids are UUIDv5 of source, document id and chunk index, so writing the same chunk
twice overwrites one point instead of adding a second.
"""

from __future__ import annotations

import uuid
from typing import Any

from chunking import Chunk
from sources.base import Document

# Fixed forever: changing it would give every existing point a new id.
POINT_NAMESPACE = uuid.UUID("6f1d3b52-8a47-5c1e-9d0b-2f6a4e7c9b10")

# Payload fields a run reads back to decide what is already done; small on purpose.
STATE_FIELDS = [
    "source",
    "document_id",
    "chunk_index",
    "chunk_count",
    "content_hash",
    "fingerprint",
]


def point_id(source: str, document_id: str, chunk_index: int) -> str:
    return str(
        uuid.uuid5(POINT_NAMESPACE, f"{source}\x1f{document_id}\x1f{chunk_index}")
    )


def payload(
    document: Document, chunk: Chunk, chunk_count: int, model: str, fingerprint: str
) -> dict[str, Any]:
    """The payload of one chunk's point: its text, its place, and its provenance."""
    body: dict[str, Any] = {
        "text": chunk.text,
        "source": document.source,
        "document_id": document.document_id,
        "kind": document.kind,
        "chunk_index": chunk.index,
        "chunk_count": chunk_count,
        "title": document.title,
        "url": _url_at(document.url, chunk.start),
        "content_hash": document.content_hash,
        "model": model,
        "fingerprint": fingerprint,
        "token_count": chunk.token_count,
        "metadata": document.metadata,
    }
    if chunk.start is not None:
        body["start_seconds"] = round(chunk.start, 3)
        body["end_seconds"] = round(
            chunk.end if chunk.end is not None else chunk.start, 3
        )
    if chunk.heading_path:
        body["heading_path"] = list(chunk.heading_path)
    return body


def _url_at(url: str | None, start: float | None) -> str | None:
    if url is None or start is None:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}t={int(start)}"
