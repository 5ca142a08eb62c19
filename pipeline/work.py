"""One work unit: read documents, skip the done ones, chunk, embed, upsert, verify.

The state that makes reruns cheap lives in Qdrant itself: every point carries its
document's content hash, its chunk index, the document's chunk count and the
run's fingerprint. A document is done when its points are exactly chunks
``0..chunk_count-1`` with the current hash and fingerprint; anything else (a
document cut short by a crash, an edited or shortened one) is embedded again and
its leftover points deleted.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from chunking import Chunk, TokenChunker
from config import Settings
from embedders import Embedder
from pipeline import progress as progress_module
from pipeline import stopping
from qdrant_rebuild.errors import SourceError, StoreError
from qdrant_store import STATE_FIELDS, UpsertWriter, payload, point_id, translate
from qdrant_store.collections import count
from sources import open_source
from sources.base import Document, DocumentRef, Source

logger = logging.getLogger(__name__)

_SCROLL_PAGE = 1024
_FILTER_IDS = 256


@dataclass
class DocumentState:
    """What the collection holds of one document."""

    content_hash: str | None = None
    fingerprint: str | None = None
    chunk_count: int | None = None
    indexes: set[int] = field(default_factory=set)
    consistent: bool = True

    def done(self, content_hash: str, fingerprint: str) -> bool:
        return (
            self.consistent
            and self.content_hash == content_hash
            and self.fingerprint == fingerprint
            and self.chunk_count is not None
            and self.indexes == set(range(self.chunk_count))
        )


@dataclass
class UnitResult:
    """Counts of one work unit (or, merged, of a whole run). Small and picklable."""

    documents: int = 0
    skipped: int = 0
    added: int = 0
    updated: int = 0
    empty: int = 0
    pruned: int = 0
    chunks: int = 0
    points_written: int = 0
    points_deleted: int = 0
    points_expected: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    embed_seconds: float = 0.0

    def merge(self, other: UnitResult) -> UnitResult:
        for name in (
            "documents", "skipped", "added", "updated", "empty", "pruned", "chunks",
            "points_written", "points_deleted", "points_expected", "embed_seconds",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)
        self.warnings.extend(other.warnings)
        self.failed.extend(other.failed)
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    document: Document
    chunks: list[Chunk]
    previous: DocumentState | None


def process_unit(
    settings: Settings,
    client: QdrantClient,
    collection: str,
    refs: list[DocumentRef],
    embedder: Embedder,
    chunker: TokenChunker,
    fingerprint: str,
    fresh: bool = False,
) -> UnitResult:
    """Bring the documents of ``refs`` up to date in ``collection``.

    ``fresh`` says the collection was just created, so there is nothing to read back.
    """
    result = UnitResult()
    progress = progress_module.current()
    sources = {s.name: open_source(s) for s in settings.sources}

    # A name that is not UTF-8 cannot be an id or a payload: reject it here.
    named = []
    for ref in refs:
        try:
            _check_name(ref)
        except SourceError as exc:
            logger.warning("rejected %s: %s", exc.path, exc.reason)
            result.rejected.append({"path": exc.path, "reason": exc.reason})
            result.documents += 1
            continue
        named.append(ref)
    refs = named

    # What the collection already holds of these documents.
    states = {} if fresh else read_states(client, collection, refs)

    # Read and chunk what is new or changed; count what is done.
    pending: list[_Pending] = []
    stale: list[tuple[str, str, int]] = []
    for ref in refs:
        document = _load(sources[ref.source], ref, result)
        result.documents += 1
        previous = states.get((ref.source, ref.document_id))
        if document is None:
            if progress:
                progress.documents_done(1)
            continue
        if previous is not None and previous.done(document.content_hash, fingerprint):
            result.skipped += 1
            result.points_expected += previous.chunk_count or 0
            if progress:
                progress.documents_done(1)
            continue
        chunks = chunker.chunk(document) if not document.empty else []
        if not chunks:
            result.empty += 1
            if previous is not None:
                stale.append((ref.source, ref.document_id, 0))
            if progress:
                progress.documents_done(1)
            continue
        pending.append(_Pending(document, chunks, previous))
        if previous is not None and (max(previous.indexes, default=-1) >= len(chunks)):
            stale.append((ref.source, ref.document_id, len(chunks)))

    # Embed in groups, longest first, while the writer stores the previous group.
    rejected_chunks = _embed_and_write(
        settings, client, collection, pending, embedder, fingerprint, result
    )

    failed_documents = {doc for batch in result.failed for doc in batch["documents"]}
    for item in pending:
        key = f"{item.document.source}/{item.document.document_id}"
        if key in failed_documents:
            continue
        result.chunks += len(item.chunks)
        result.points_expected += len(item.chunks) - rejected_chunks.get(key, 0)
        if item.previous is None:
            result.added += 1
        else:
            result.updated += 1
        if progress:
            progress.documents_done(1)

    # Points of chunks that no longer exist go only after their replacements landed.
    for source, document_id, keep in stale:
        if f"{source}/{document_id}" not in failed_documents:
            result.points_deleted += delete_chunks_from(
                client, collection, source, document_id, keep
            )

    # Exact counts of what should now be there; rejected inputs keep what they had.
    unsettled = failed_documents | {
        r["path"] for r in result.rejected if "chunk" not in r
    }
    settled = [
        ref
        for ref in refs
        if f"{ref.source}/{ref.document_id}" not in unsettled
        and not any(path in unsettled for path in ref.paths)
    ]
    verify_unit(client, collection, settled, result.points_expected)
    return result


def _load(source: Source, ref: DocumentRef, result: UnitResult) -> Document | None:
    try:
        document = source.load(ref)
    except SourceError as exc:
        logger.warning("rejected %s: %s", exc.path, exc.reason)
        result.rejected.append({"path": exc.path, "reason": exc.reason})
        return None
    for warning in document.warnings:
        logger.info("%s: %s", ref.paths[0], warning)
        result.warnings.append({"path": ref.paths[0], "warning": warning})
    return document


def _check_name(ref: DocumentRef) -> None:
    """A file name that is not UTF-8 cannot become an id or a JSON payload."""
    try:
        ref.document_id.encode("utf-8")
    except UnicodeEncodeError:
        path = ref.paths[0] if ref.paths else ref.document_id
        raise SourceError(
            path.encode("utf-8", "backslashreplace").decode("utf-8"),
            "the file name is not valid UTF-8; rename the file",
        ) from None


def _embed_and_write(
    settings: Settings,
    client: QdrantClient,
    collection: str,
    pending: list[_Pending],
    embedder: Embedder,
    fingerprint: str,
    result: UnitResult,
) -> dict[str, int]:
    progress = progress_module.current()
    items = [(p.document, chunk, len(p.chunks)) for p in pending for chunk in p.chunks]
    # Sorting by length keeps each group's padding small, as encode() does inside.
    items.sort(key=lambda item: item[1].token_count, reverse=True)
    rejected: dict[str, int] = defaultdict(int)
    writer = UpsertWriter(
        client,
        collection,
        settings.upsert,
        on_written=progress.points_written if progress else None,
    )
    group = settings.run.encode_group
    try:
        for begin in range(0, len(items), group):
            stopping.check()
            part = items[begin : begin + group]
            started = time.perf_counter()
            vectors, bad_rows = embedder.encode([chunk.text for _, chunk, _ in part])
            result.embed_seconds += time.perf_counter() - started
            bad = set(bad_rows)
            for row in bad_rows:
                document, chunk, _ = part[row]
                key = f"{document.source}/{document.document_id}"
                rejected[key] += 1
                result.rejected.append(
                    {
                        "path": key,
                        "chunk": str(chunk.index),
                        "reason": f"chunk {chunk.index} gave a non-finite or zero "
                        "vector, even alone in fp32; that chunk is not indexed",
                    }
                )
            keep = [row for row in range(len(part)) if row not in bad]
            writer.put(
                [
                    point_id(d.source, d.document_id, c.index)
                    for d, c, _ in (part[r] for r in keep)
                ],
                vectors[keep],
                [
                    payload(d, c, n, embedder.info.name, fingerprint)
                    for d, c, n in (part[r] for r in keep)
                ],
            )
            if progress:
                progress.chunks_embedded(len(part))
    finally:
        written = writer.close()
    result.points_written += written.written
    result.failed.extend(asdict(failure) for failure in written.failures)
    return rejected


def read_states(
    client: QdrantClient, collection: str, refs: list[DocumentRef]
) -> dict[tuple[str, str], DocumentState]:
    """The stored state of each document in ``refs``, read from point payloads."""
    states: dict[tuple[str, str], DocumentState] = {}
    for source, flt in _document_filters(refs):
        for point in scroll(client, collection, flt, STATE_FIELDS):
            body = point.payload or {}
            key = (source, str(body.get("document_id")))
            _absorb(states.setdefault(key, DocumentState()), body)
    return states


def _document_filters(
    refs: list[DocumentRef],
) -> Iterator[tuple[str, models.Filter]]:
    """Filters that together match the points of ``refs``, a few hundred ids each."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        by_source[ref.source].append(ref.document_id)
    for source, ids in by_source.items():
        for begin in range(0, len(ids), _FILTER_IDS):
            yield (
                source,
                models.Filter(
                    must=[
                        models.FieldCondition(
                            key="source", match=models.MatchValue(value=source)
                        ),
                        models.FieldCondition(
                            key="document_id",
                            match=models.MatchAny(any=ids[begin : begin + _FILTER_IDS]),
                        ),
                    ]
                ),
            )


def _absorb(state: DocumentState, body: dict[str, Any]) -> None:
    values = (
        body.get("content_hash"),
        body.get("fingerprint"),
        body.get("chunk_count"),
    )
    if state.content_hash is None and not state.indexes:
        state.content_hash, state.fingerprint, state.chunk_count = values
    elif (state.content_hash, state.fingerprint, state.chunk_count) != values:
        state.consistent = False
    index = body.get("chunk_index")
    if isinstance(index, int):
        state.indexes.add(index)


def scroll(
    client: QdrantClient,
    collection: str,
    flt: models.Filter | None,
    fields: list[str] | bool,
) -> Any:
    """Every point matching ``flt``, page by page, with only ``fields`` of payload."""
    offset = None
    while True:
        try:
            points, offset = client.scroll(
                collection,
                scroll_filter=flt,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=fields,
                with_vectors=False,
            )
        except Exception as exc:
            raise translate(exc) from exc
        yield from points
        if offset is None:
            return


def delete_chunks_from(
    client: QdrantClient, collection: str, source: str, document_id: str, first: int
) -> int:
    """Delete a document's points with chunk index ``first`` and up; return how many."""
    flt = models.Filter(
        must=[
            models.FieldCondition(key="source", match=models.MatchValue(value=source)),
            models.FieldCondition(
                key="document_id", match=models.MatchValue(value=document_id)
            ),
            models.FieldCondition(key="chunk_index", range=models.Range(gte=first)),
        ]
    )
    doomed = count(client, collection, flt)
    if doomed:
        try:
            client.delete(
                collection, points_selector=models.FilterSelector(filter=flt), wait=True
            )
        except Exception as exc:
            raise translate(exc) from exc
        logger.info("deleted %d leftover points of %s/%s", doomed, source, document_id)
    return doomed


def verify_unit(
    client: QdrantClient, collection: str, refs: list[DocumentRef], expected: int
) -> None:
    """Compare the exact point count of these documents with what was written."""
    actual = sum(count(client, collection, flt) for _, flt in _document_filters(refs))
    if actual != expected:
        raise StoreError(
            f"collection {collection} holds {actual} points for {len(refs)} documents "
            f"where {expected} were written; rerun the same command to repair them"
        )
