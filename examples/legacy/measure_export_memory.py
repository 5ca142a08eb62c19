"""Measure the memory that export_collection takes beside the collection it exports.

Builds a collection of random vectors in the in-memory Qdrant, then exports it in
pages and reports the peak resident memory added by the export (Linux: the peak is
reset through /proc/self/clear_refs first) and the peak of Python allocations.

    python examples/legacy/measure_export_memory.py --points 50000 --page-size 1000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
from qdrant_client import QdrantClient, models

from parity.parquet import export_collection


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def build(client: QdrantClient, points: int, dimension: int) -> None:
    client.create_collection(
        "big",
        vectors_config=models.VectorParams(
            size=dimension, distance=models.Distance.COSINE
        ),
    )
    rng = np.random.default_rng(7)
    words = [
        "parity",
        "export",
        "chunk",
        "vector",
        "payload",
        "source",
        "document",
        "alias",
    ]
    for begin in range(0, points, 5000):
        n = min(5000, points - begin)
        vectors = rng.normal(size=(n, dimension)).astype(np.float32)
        payloads = [
            {
                "text": " ".join(rng.choice(words, 60)),
                "document_id": f"docs/{(begin + i) // 8}.md",
                "chunk_index": (begin + i) % 8,
            }
            for i in range(n)
        ]
        client.upsert(
            "big",
            points=models.Batch(
                ids=list(range(begin, begin + n)),
                vectors=vectors.tolist(),
                payloads=payloads,
            ),
            wait=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    client = QdrantClient(":memory:")
    began = time.monotonic()
    build(client, args.points, args.dimension)
    built_s = time.monotonic() - began
    rss_before = _status_kib("VmRSS")
    vector_mib = args.points * args.dimension * 4 / 2**20

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.parquet"
        # First without tracemalloc, whose own bookkeeping would swell the RSS.
        reset = _reset_peak()
        began = time.monotonic()
        exported = export_collection(client, "big", path, page_size=args.page_size)
        export_s = time.monotonic() - began
        peak = _status_kib("VmHWM")
        arrow_peak = pa.default_memory_pool().max_memory()
        file_mib = path.stat().st_size / 2**20

        tracemalloc.start()
        export_collection(client, "big", path, page_size=args.page_size)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    mib, kib = 2**20, 1024
    lines = [
        f"points: {exported} x {args.dimension} float32 ({vector_mib:.1f} MiB)",
        f"built in {built_s:.1f} s; "
        f"RSS with the collection: {rss_before / kib:.1f} MiB",
        f"export in pages of {args.page_size}: {export_s:.1f} s, "
        f"file {file_mib:.1f} MiB",
        f"peak of the Arrow memory pool: {arrow_peak / mib:.1f} MiB",
        "peak Python allocations in an export (tracemalloc): "
        f"{traced_peak / mib:.1f} MiB",
        "process max RSS (getrusage): "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib:.1f} MiB",
    ]
    if reset:
        grown = (peak - rss_before) / kib
        lines.insert(
            3, f"peak RSS during export: {peak / kib:.1f} MiB (+{grown:.1f} MiB)"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
