"""Build the demo "school" collection the way older tools built theirs, and export it.

The old collection that the demo rebuild is compared with: the knowledge documents
the default config reads, cut into ~1000-character pieces by a recursive character
splitter (as LangChain's RecursiveCharacterTextSplitter does), random UUIDs, and a
LangChain payload ``{page_content, metadata: {source: <file path>}}``. A few
documents are left out and one is an older version, so parity has something to
find. Vectors come from the same all-MiniLM-L6-v2 the rebuild uses.

    python examples/legacy/make_school_collection.py  # writes school.parquet here
"""

from __future__ import annotations

import argparse
import logging
import random
import time
import uuid
from pathlib import Path

from qdrant_client import QdrantClient, models

from config import EmbeddingSettings, load_settings
from embedders import load_embedder
from parity.parquet import export_collection
from sources import open_source

HERE = Path(__file__).resolve().parent
OLD_ROOT = "/home/school/knowledge"
# Documents the old collection never had: new-only in the rebuild.
MISSING = (
    "fastembed/docs/index.md",
    "httpx/docs/third_party_packages.md",
    "prefect/docs/v3/examples/hello-world.mdx",
)
# The document the old collection holds in an older version.
STALE = "httpx/docs/async.md"
STALE_PARAGRAPH = (
    "Async support is experimental in this release. The AsyncClient API may change "
    "without notice, and trio is not supported yet; use the synchronous Client in "
    "production code until the async interface is declared stable."
)
SEPARATORS = ("\n\n", "\n", " ", "")


def split_text(text: str, size: int, overlap: int) -> list[str]:
    """Pieces of at most ``size`` characters, cut at the coarsest separator that
    works, neighbours sharing up to ``overlap`` characters."""
    return [p for p in _split(text, SEPARATORS, size, overlap) if p.strip()]


def _split(
    text: str, separators: tuple[str, ...], size: int, overlap: int
) -> list[str]:
    separator = next((s for s in separators if s == "" or s in text), "")
    rest = separators[separators.index(separator) + 1 :] if separator else ()
    parts = list(text) if separator == "" else text.split(separator)
    pieces: list[str] = []
    window: list[str] = []
    for part in parts:
        if len(part) > size and rest:
            pieces += _merge(window, separator, size, overlap)
            window = []
            pieces += _split(part, rest, size, overlap)
        else:
            window.append(part)
    return pieces + _merge(window, separator, size, overlap)


def _merge(parts: list[str], separator: str, size: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for part in parts:
        joined = separator.join([*current, part])
        if current and len(joined) > size:
            pieces.append(separator.join(current).strip())
            # Keep the tail of the last piece, up to ``overlap`` characters.
            while current and (
                len(separator.join(current)) > overlap
                or len(separator.join([*current, part])) > size
            ):
                current.pop(0)
        current.append(part)
    if current:
        pieces.append(separator.join(current).strip())
    return pieces


def older_version(text: str) -> str:
    """The document as it was: its first half, with a paragraph later removed."""
    paragraphs = text.split("\n\n")
    return "\n\n".join([*paragraphs[: len(paragraphs) // 2], STALE_PARAGRAPH])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--output", type=Path, default=HERE / "school.parquet")
    parser.add_argument("--chunk-chars", type=int, default=1000)
    parser.add_argument("--overlap-chars", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1204)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    began = time.monotonic()

    # The documents of the default config's knowledge source, read as we read them.
    settings = load_settings(args.config)
    source = open_source(settings.source("knowledge"))
    rng = random.Random(args.seed)
    texts, payloads = [], []
    documents = 0
    for ref in sorted(source.scan(), key=lambda r: r.document_id):
        if ref.document_id in MISSING:
            continue
        text = source.load(ref).text
        if ref.document_id == STALE:
            text = older_version(text)
        documents += 1
        for piece in split_text(text, args.chunk_chars, args.overlap_chars):
            texts.append(piece)
            path = f"{OLD_ROOT}/{ref.document_id}"
            payloads.append({"page_content": piece, "metadata": {"source": path}})

    # The same model as the rebuild, into an in-memory collection of its own.
    embedder = load_embedder(EmbeddingSettings())
    vectors, bad = embedder.encode(texts)
    if bad:
        raise SystemExit(f"{len(bad)} chunks gave no vector; nothing was written")
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in texts]
    client = QdrantClient(":memory:")
    client.create_collection(
        "school",
        vectors_config=models.VectorParams(
            size=embedder.info.dimension, distance=models.Distance.COSINE
        ),
    )
    for begin in range(0, len(ids), 256):
        end = begin + 256
        client.upsert(
            "school",
            points=models.Batch(
                ids=ids[begin:end],
                vectors=vectors[begin:end].tolist(),
                payloads=payloads[begin:end],
            ),
            wait=True,
        )
    written = export_collection(client, "school", args.output)
    size_mib = args.output.stat().st_size / 2**20
    print(
        f"school: {written} chunks of {documents} documents "
        f"({len(MISSING)} left out, {STALE} stale) -> {args.output} "
        f"({size_mib:.1f} MiB) in {time.monotonic() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
