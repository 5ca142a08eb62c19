"""Chunks measured in the model's own tokens, on every sample input."""

from __future__ import annotations

import base64
import itertools
from random import Random
from typing import Any

import pytest

from chunking import TokenChunker
from config import SourceSettings
from qdrant_rebuild.errors import SourceError
from sources import open_source
from sources.base import Document, Segment
from tests.conftest import SAMPLES

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def chunker(embedder: Any) -> TokenChunker:
    return TokenChunker(embedder.tokenizer, max_tokens=256, overlap=32)


def _chunks_of_samples(chunker: TokenChunker, kind: str, folder: str) -> dict[str, Any]:
    source = open_source(SourceSettings(name="s", kind=kind, path=SAMPLES / folder))
    found: dict[str, Any] = {}
    for ref in source.scan():
        try:
            found[ref.document_id] = chunker.chunk(source.load(ref))
        except SourceError as exc:
            found[ref.document_id] = exc.reason
    return found


def test_every_sample_document_gives_its_expected_chunks(chunker: TokenChunker) -> None:
    found = _chunks_of_samples(chunker, "documents", "docs")

    counts = {k: v if isinstance(v, str) else len(v) for k, v in found.items()}

    assert counts == {
        "bad_frontmatter.md": 1,
        "cp1252.txt": 1,
        "dup_a.md": 1,
        "dup_b.md": 1,
        "empty.md": 0,
        "image_disguised.md": "binary content (PNG image), not text",
        "long_no_whitespace.md": 28,
        "note_frontmatter.md": 2,
        "page.html": 1,
        "plain.txt": 1,
    }
    assert [c.heading_path for c in found["note_frontmatter.md"]] == [
        ("Re-embedding runbook",),
        ("Re-embedding runbook", "Config example"),
    ]
    assert found["dup_a.md"][0].text == found["dup_b.md"][0].text


def test_every_sample_transcript_gives_its_expected_chunks(
    chunker: TokenChunker,
) -> None:
    found = _chunks_of_samples(chunker, "transcripts", "transcripts")

    spans = {k: [(c.start, c.end) for c in v] for k, v in found.items()}

    assert spans == {
        "yt_auto_converted.en": [(3.8, 12.43)],
        "yt_auto_en.und": [(3.8, 50.32)],
        "yt_header_only.und": [],
        "yt_manual_en.und": [(0.5, 18.0)],
        "ytt_api_generated.und": [(3.8, 50.32)],
    }
    assert found["yt_auto_en.und"][0].text == found["ytt_api_generated.und"][0].text


def test_no_chunk_of_the_long_sample_exceeds_the_models_maximum(
    chunker: TokenChunker, embedder: Any
) -> None:
    source = open_source(
        SourceSettings(name="s", kind="documents", path=SAMPLES / "docs")
    )
    [ref] = [r for r in source.scan() if r.document_id == "long_no_whitespace.md"]

    chunks = chunker.chunk(source.load(ref))

    assert all(len(embedder.tokenizer(c.text)["input_ids"]) <= 256 for c in chunks)
    assert chunks[-1].text.endswith("End of note.")


def test_text_without_whitespace_is_split_with_overlap_and_nothing_cut_off(
    chunker: TokenChunker, embedder: Any
) -> None:
    random = Random(5)
    body = base64.b64encode(random.randbytes(6000)).decode()
    document = Document("s", "blob", "document", "t", None, [Segment(body)])

    chunks = chunker.chunk(document)

    assert all(len(embedder.tokenizer(c.text)["input_ids"]) <= 256 for c in chunks)
    starts = [body.index(c.text) for c in chunks]
    assert starts[0] == 0
    assert starts[-1] + len(chunks[-1].text) == len(body)
    for start, before in zip(starts[1:], chunks, strict=False):
        # Each window opens inside the previous one: overlap, never a gap.
        assert start < body.index(before.text) + len(before.text)


def test_transcript_chunks_follow_cue_lines_and_carry_the_overlap(
    chunker: TokenChunker,
) -> None:
    lines = [
        Segment(f"line number {i} of the talk", i * 2.0, i * 2.0 + 2)
        for i in range(200)
    ]
    document = Document("s", "talk.en", "transcript", "Talk", None, lines)

    chunks = chunker.chunk(document)

    assert len(chunks) > 3
    assert all(c.token_count <= chunker.budget for c in chunks)
    assert chunks[0].start == 0.0
    assert chunks[-1].end == 400.0
    for before, after in itertools.pairwise(chunks):
        assert before.text.split("\n")[-1] in after.text  # the carried last line
        assert after.start is not None and before.end is not None
        assert after.start < before.end


def test_small_sections_are_merged_under_the_first_heading(
    chunker: TokenChunker,
) -> None:
    sections = [
        Segment("Install it with pip.", heading_path=("Guide", "Install")),
        Segment("Run the command.", heading_path=("Guide", "Run")),
    ]
    document = Document("s", "guide.md", "document", "Guide", None, sections)

    [chunk] = chunker.chunk(document)

    assert chunk.heading_path == ("Guide", "Install")
    assert chunk.text == (
        "Guide > Install\nInstall it with pip.\n\nGuide > Run\nRun the command."
    )
