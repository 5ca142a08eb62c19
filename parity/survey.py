"""One pass over each collection's payloads: its documents and the samples parity needs.

Neither side is held in memory: per document only a point count, its source and a
thinned set of word-shingle hashes are kept; per new chunk a short digest of its
text, so that old chunks with the same text can be found.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from chunking.tokens import HEADING_SEPARATOR
from parity.layout import KeyNormaliser, Layout, field_value, text_digest, text_value
from parity.legacy import Reader
from qdrant_rebuild.errors import ParityError

# Points of the first page that must show the mapped fields before reading on.
MAPPING_PROBE = 100
# Old chunks whose text matches a new chunk, compared vector to vector.
VECTOR_SAMPLE = 200
QUERY_WORDS = 24
SHINGLE_WORDS = 5
# One shingle in four is kept (chosen by hash, so both sides keep the same ones).
SHINGLE_KEEP = 4

_WORD = re.compile(r"\w+")


@dataclass
class DocumentSummary:
    points: int = 0
    source: str | None = None
    shingles: set[int] = field(default_factory=set)


@dataclass
class Survey:
    """What one pass over a collection found."""

    collection: str
    points: int = 0
    unmapped_points: int = 0
    documents: dict[str, DocumentSummary] = field(default_factory=dict)
    missing_fields: dict[str, int] = field(default_factory=dict)
    digests: dict[bytes, str | int] = field(default_factory=dict)
    samples: list[tuple[str, str]] = field(default_factory=list)
    matches: list[tuple[str | int, str | int]] = field(default_factory=list)
    key_of_raw: dict[str, str] = field(default_factory=dict)

    def document_sources(self) -> dict[str, str | None]:
        return {key: doc.source for key, doc in self.documents.items()}


def shingles(text: str) -> set[int]:
    """Hashes of runs of words within a line, thinned the same way on both sides.

    Runs stop at line ends because chunkers join sections differently (ours puts
    a heading line between them), and lines shorter than a run (headings, mostly)
    give none.
    """
    out = set()
    for line in text.lower().split("\n"):
        words = _WORD.findall(line)
        for i in range(len(words) - SHINGLE_WORDS + 1):
            run = " ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8")
            value = zlib.crc32(run)
            if value % SHINGLE_KEEP == 0:
                out.add(value)
    return out


def survey_new(reader: Reader, collection: str, required: Sequence[str]) -> Survey:
    """Our own collection: text, document_id and source, as the pipeline writes."""
    layout = Layout.ours()
    survey = Survey(collection)
    fields = layout.payload_roots([*required, "heading_path"])
    for record in reader.scroll(collection, fields):
        survey.points += 1
        _note_missing(survey, record.payload, required)
        text = text_value(record.payload, layout.text_field)
        key = KeyNormaliser.raw(field_value(record.payload, layout.document_key_field))
        if text is None or key is None:
            survey.unmapped_points += 1
            continue
        survey.digests.setdefault(text_digest(text), record.id)
        body = _without_heading(text, record.payload.get("heading_path"))
        _add(survey, key, field_value(record.payload, "source"), body)
    return survey


def _without_heading(text: str, heading_path: Any) -> str:
    """Our chunker opens each section of a chunk with its heading path. Those lines
    are not document text, and would make every document look changed to a
    comparison of words; sections merged into one chunk share the top heading."""
    if not isinstance(heading_path, list) or not heading_path:
        return text
    top = str(heading_path[0])
    return "\n".join(
        line
        for line in text.split("\n")
        if not (line == top or line.startswith(top + HEADING_SEPARATOR))
    )


def survey_old(
    reader: Reader,
    collection: str,
    layout: Layout,
    normaliser: KeyNormaliser,
    *,
    new_digests: dict[bytes, str | int],
    required: Sequence[str],
    sample_queries: int,
    seed: int,
) -> Survey:
    """The old collection, read through its layout; documents keyed as ours are.

    Raises ParityError when the first points show no text or no document key at
    the configured paths: comparing would only produce a wrong verdict.
    """
    by_raw = Survey(collection)
    rng = random.Random(seed)
    seen_texts = seen_matches = 0
    found_text = found_key = 0
    for record in reader.scroll(collection, layout.payload_roots(required)):
        by_raw.points += 1
        _note_missing(by_raw, record.payload, required)
        text = text_value(record.payload, layout.text_field)
        key = KeyNormaliser.raw(field_value(record.payload, layout.document_key_field))
        found_text += text is not None
        found_key += key is not None
        if by_raw.points == MAPPING_PROBE:
            _check_mapping(reader, collection, layout, found_text, found_key)
        if text is None or key is None:
            by_raw.unmapped_points += 1
            continue
        _add(by_raw, key, field_value(record.payload, layout.source_field), text)

        seen_texts += 1
        _reservoir(by_raw.samples, (key, text), seen_texts, rng, sample_queries)
        new_id = new_digests.get(text_digest(text))
        if new_id is not None:
            seen_matches += 1
            pair = (record.id, new_id)
            _reservoir(by_raw.matches, pair, seen_matches, rng, VECTOR_SAMPLE)
    if by_raw.points == 0:
        raise ParityError(
            f"old collection {collection} on {reader.server} has no points, so there "
            "is nothing to compare with; check parity.old_collection"
        )
    if by_raw.points < MAPPING_PROBE:
        _check_mapping(reader, collection, layout, found_text, found_key)
    windows = random.Random(seed)
    by_raw.samples = [(key, _query_from(text, windows)) for key, text in by_raw.samples]
    return _keyed(by_raw, normaliser)


def _check_mapping(
    reader: Reader, collection: str, layout: Layout, found_text: int, found_key: int
) -> None:
    for found, path, what, setting in (
        (found_text, layout.text_field, "text", "text_field"),
        (found_key, layout.document_key_field, "document key", "document_key_field"),
    ):
        if found == 0:
            raise ParityError(
                f"old collection {collection} on {reader.server} ({reader.version}): "
                f"no {what} at payload path {path!r} in its first points (payload "
                f"keys there: {_keys_seen(reader, collection)}); set parity.{setting}"
            )


def _keys_seen(reader: Reader, collection: str) -> str:
    """Top-level payload keys of the first points, read whole, to name in an error."""
    keys: set[str] = set()
    for record in islice(reader.scroll(collection, None, 20), 20):
        keys.update(record.payload)
    return ", ".join(sorted(keys)[:12]) or "none"


def _keyed(by_raw: Survey, normaliser: KeyNormaliser) -> Survey:
    """Merge documents whose raw keys normalise to the same key of ours."""
    keyed = Survey(by_raw.collection, by_raw.points, by_raw.unmapped_points)
    keyed.missing_fields = by_raw.missing_fields
    keyed.matches = by_raw.matches
    keyed.key_of_raw = normaliser.learn(by_raw.documents)
    for raw, doc in by_raw.documents.items():
        target = keyed.documents.setdefault(keyed.key_of_raw[raw], DocumentSummary())
        target.points += doc.points
        target.source = target.source or doc.source
        target.shingles |= doc.shingles
    keyed.samples = [(keyed.key_of_raw[raw], query) for raw, query in by_raw.samples]
    return keyed


def _add(survey: Survey, key: str, source: Any, text: str) -> None:
    doc = survey.documents.setdefault(key, DocumentSummary())
    doc.points += 1
    if doc.source is None and isinstance(source, str):
        doc.source = source
    doc.shingles |= shingles(text)


def _note_missing(
    survey: Survey, payload: dict[str, Any], required: Sequence[str]
) -> None:
    for name in required:
        if field_value(payload, name) is None:
            survey.missing_fields[name] = survey.missing_fields.get(name, 0) + 1


def _reservoir(
    bucket: list[Any], item: Any, seen: int, rng: random.Random, size: int
) -> None:
    """Algorithm R: after n items, each is in the bucket with the same chance."""
    if len(bucket) < size:
        bucket.append(item)
        return
    slot = rng.randrange(seen)
    if slot < size:
        bucket[slot] = item


def _query_from(text: str, rng: random.Random) -> str:
    """A query-sized window of words from a chunk, so a query is not the chunk."""
    words = text.split()
    if len(words) <= QUERY_WORDS:
        return " ".join(words)
    start = rng.randrange(len(words) - QUERY_WORDS + 1)
    return " ".join(words[start : start + QUERY_WORDS])
