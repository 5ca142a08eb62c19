"""How much the pipeline costs beyond the model: the whole rebuild against the bare
``SentenceTransformer.encode`` of exactly the chunk texts the rebuild produced.

Both are timed in this one process, on the same machine state, with the model
already loaded and Prefect's API already up (their start-up is timed and printed
apart). Run it with ``make bench``; it prints a line with the word ``ratio``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="full", help="profile or TOML file")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="the embedded Qdrant in memory instead of on disk",
    )
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="qdrant-bench-")
    os.environ["QDRANT_PATH"] = (
        ":memory:" if args.memory else str(Path(data) / "qdrant")
    )
    os.environ["QDRANT_REBUILD_RUN__OUTPUT_DIR"] = str(Path(data) / "runs")

    started = time.perf_counter()
    from prefect import flow

    from flows.rebuild import rebuild
    from pipeline.runtime import runtime
    from qdrant_store import close_embedded

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Starts Prefect's ephemeral API, a one-off cost of any flow run."""

    warm_up()
    prefect_seconds = time.perf_counter() - started
    loaded = time.perf_counter()
    rt = runtime(args.config)
    model_seconds = time.perf_counter() - loaded

    # (b) the whole rebuild: scan, read, chunk, embed, upsert, verify, alias.
    began = time.perf_counter()
    summary = rebuild(config=args.config)
    pipeline_seconds = time.perf_counter() - began

    # (a) the bare model on exactly the chunk texts the rebuild stored.
    payloads = [
        point.payload or {} for point in _scroll(rt.client, summary["collection"])
    ]
    texts = [str(body["text"]) for body in payloads]
    began = time.perf_counter()
    rt.embedder.model.encode(
        texts,
        batch_size=rt.settings.embedding.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    encode_seconds = time.perf_counter() - began

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    state_bytes, state_share = _state_share(payloads, rt.embedder.info.dimension)
    store = "in memory" if args.memory else "on disk"
    print(f"corpus: {summary['documents_read']} documents, {len(texts)} chunks")
    print(
        f"store: embedded Qdrant {store}; cores: {os.cpu_count()}; "
        f"device: {rt.embedder.device}"
    )
    print(
        f"start-up (not in the ratio): prefect api {prefect_seconds:.1f} s, "
        f"model load {model_seconds:.1f} s"
    )
    rate = len(texts) / encode_seconds
    print(f"bare encode: {encode_seconds:.1f} s ({rate:.1f} chunks/s)")
    print(
        f"pipeline:    {pipeline_seconds:.1f} s "
        f"({summary['points_written'] / pipeline_seconds:.1f} points/s)"
    )
    print(
        f"ratio pipeline_seconds / encode_seconds = "
        f"{pipeline_seconds / encode_seconds:.3f}"
    )
    print(f"peak RSS: {peak_mib:.0f} MiB")
    print(
        f"resume state: {state_bytes:.0f} bytes a point in its payload, "
        f"{state_share:.1%} of the stored points (vectors and payloads)"
    )
    close_embedded()
    return 0


def _scroll(client, collection):  # type: ignore[no-untyped-def]
    from pipeline.work import scroll

    return list(scroll(client, collection, None, True))


def _state_share(payloads: list[dict], dimension: int) -> tuple[float, float]:  # type: ignore[type-arg]
    """Bytes per point of the resume state, and its share of the stored points."""
    from qdrant_store import STATE_FIELDS

    state = sum(len(json.dumps({k: p[k] for k in STATE_FIELDS})) for p in payloads)
    whole = sum(len(json.dumps(p)) + 4 * dimension for p in payloads)
    return state / len(payloads), state / whole


if __name__ == "__main__":
    sys.exit(main())
