"""Run parity: read both collections, embed the queries, run the checks, report.

Callable without Prefect: the rebuild flow calls it as the gate before the alias
moves, and the ``parity`` flow calls it on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient

from config import Settings
from embedders import Embedder, load_embedder, resolve_model_location
from parity import checks
from parity.layout import KeyNormaliser, Layout, field_value
from parity.legacy import Reader, RestReader, reader_for_client
from parity.report import CheckResult, ParityReport, Side
from parity.survey import Survey, survey_new, survey_old
from qdrant_rebuild.errors import ConfigError, EmbedderError, ParityError, StoreError

logger = logging.getLogger(__name__)

# Chunks fetched per query, per document wanted: enough for top_k documents even
# when a few documents hold several of the best chunks.
CHUNKS_PER_DOCUMENT = 3
RETRIEVE_BATCH = 100


def run_parity(
    settings: Settings,
    *,
    new_collection: str,
    new_client: QdrantClient | None = None,
    old_client: QdrantClient | None = None,
) -> ParityReport:
    """Compare ``new_collection`` (a collection or alias on [qdrant]) with the old one.

    ``old_client`` defaults to a client of ``parity.old_url``, or to ``new_client``
    when that is empty (the same store). The old collection is only read. Raises
    ParityError when the old collection cannot be reached, read or mapped.
    """
    parity = settings.parity
    if not parity.old_collection:
        raise ConfigError(
            "parity.old_collection is empty, so there is nothing to compare with; "
            "set it in [parity] or name one with `qdrant-rebuild parity --old NAME`"
        )
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    opened: list[RestReader] = []
    try:
        new_reader = _new_reader(settings, new_client, opened)
        try:
            old_reader = _old_reader(settings, old_client, new_client, opened)
        except ParityError as exc:
            # Name the collection even when the server itself failed to answer.
            raise ParityError(f"old collection {parity.old_collection}: {exc}") from exc
        return _compare(settings, new_collection, new_reader, old_reader, started_at)
    finally:
        for reader in opened:
            reader.close()
        logger.debug("parity took %.1f s", time.monotonic() - began)


def _new_reader(
    settings: Settings, client: QdrantClient | None, opened: list[RestReader]
) -> Reader:
    from qdrant_store.client import api_key, connect

    client = client or connect(settings)
    reader = reader_for_client(client, settings.qdrant.url, api_key(settings))
    if isinstance(reader, RestReader):
        opened.append(reader)
    return reader


def _old_reader(
    settings: Settings,
    client: QdrantClient | None,
    new_client: QdrantClient | None,
    opened: list[RestReader],
) -> Reader:
    from qdrant_store.client import api_key, connect

    old_url = settings.parity.old_url
    secret = settings.secrets.old_qdrant_api_key
    key = secret.get_secret_value() if secret is not None else None
    if client is None and old_url:
        # A server of unknown age: REST works on every 1.x version.
        reader: Reader = RestReader(old_url, key, settings.qdrant.timeout_seconds)
    elif client is not None:
        reader = reader_for_client(client, old_url or settings.qdrant.url, key)
    else:
        same = new_client or connect(settings)
        reader = reader_for_client(same, settings.qdrant.url, api_key(settings))
    if isinstance(reader, RestReader):
        opened.append(reader)
    return reader


def _compare(
    settings: Settings,
    requested_new: str,
    new_reader: Reader,
    old_reader: Reader,
    started_at: str,
) -> ParityReport:
    parity = settings.parity
    began = time.monotonic()
    try:
        new_name = new_reader.resolve(requested_new)
    except ParityError as exc:
        raise StoreError(f"new {exc}") from exc
    old_name = old_reader.resolve(parity.old_collection)
    old_space = old_reader.vector_space(old_name)
    old_points, new_points = old_reader.count(old_name), new_reader.count(new_name)
    logger.info(
        "parity: %s (%d points, %s) against %s (%d points, %s)",
        new_name,
        new_points,
        new_reader.server,
        old_name,
        old_points,
        old_reader.server,
    )

    required = parity.required_payload_fields
    new = survey_new(new_reader, new_name, required)
    layout = Layout.of_old(parity)
    normaliser = layout.key_normaliser(new.documents)
    old = survey_old(
        old_reader,
        old_name,
        layout,
        normaliser,
        new_digests=new.digests,
        required=required,
        sample_queries=parity.sample_queries,
        seed=parity.seed,
    )
    logger.info(
        "parity: read %d old documents and %d new documents",
        len(old.documents),
        len(new.documents),
    )

    results = [
        checks.counts(old_points, new_points, old, new, parity),
        checks.coverage(old, new, parity),
    ]
    models = _ModelChecks(settings, old_reader, new_reader, old_name, new_name)
    results += models.run(old, normaliser, layout, old_space.size)
    results.append(checks.payload_fields(old, new, parity))

    report = ParityReport(
        old=Side(
            parity.old_collection,
            old_name,
            old_reader.server,
            old_reader.version,
            old_points,
            parity.old_model,
        ),
        new=Side(
            requested_new,
            new_name,
            new_reader.server,
            new_reader.version,
            new_points,
            settings.embedding.model,
        ),
        checks=results,
        parameters=_parameters(settings, models),
        started_at=started_at,
        seconds=round(time.monotonic() - began, 2),
    )
    logger.info("%s", report.verdict_line())
    return report


class _ModelChecks:
    """Retrieval and vector agreement: the checks that need the models."""

    def __init__(
        self,
        settings: Settings,
        old_reader: Reader,
        new_reader: Reader,
        old_name: str,
        new_name: str,
    ) -> None:
        self.settings = settings
        self.old_reader, self.new_reader = old_reader, new_reader
        self.old_name, self.new_name = old_name, new_name
        self.queries = 0
        self.vector_pairs = 0

    def run(
        self, old: Survey, normaliser: KeyNormaliser, layout: Layout, old_size: int
    ) -> list[CheckResult]:
        old_model = self.settings.parity.old_model
        reason = None
        if not old_model:
            reason = "parity.old_model is empty: the old collection's model is unknown"
        else:
            new_embedder = load_embedder(self.settings.embedding)
            try:
                old_embedder = self._old_embedder(old_model, new_embedder)
            except EmbedderError as exc:
                reason = f"old_model {old_model!r} cannot be loaded ({exc})"
            else:
                if old_embedder.info.dimension != old_size:
                    reason = (
                        f"old_model {old_model!r} gives {old_embedder.info.dimension} "
                        f"dimensions but {self.old_name} holds {old_size}"
                    )
        if reason is not None:
            return [
                CheckResult.skip("retrieval", reason),
                CheckResult.skip("vectors", reason),
            ]

        queries, origin = self._queries(old)
        outcomes = self._search(queries, old_embedder, new_embedder, normaliser, layout)
        results = [checks.retrieval(outcomes, self.settings.parity, origin)]
        if old_embedder is not new_embedder:
            results.append(
                CheckResult.skip(
                    "vectors",
                    f"the models differ ({old_model} and "
                    f"{self.settings.embedding.model}): their vectors do not compare",
                )
            )
        else:
            old_vectors, new_vectors = self._paired_vectors(old.matches)
            results.append(
                checks.vectors(old_vectors, new_vectors, self.settings.parity)
            )
        return results

    def _old_embedder(self, old_model: str, new_embedder: Embedder) -> Embedder:
        if _same_model(old_model, self.settings.embedding.model):
            return new_embedder
        return load_embedder(
            self.settings.embedding.model_copy(update={"model": old_model})
        )

    def _queries(self, old: Survey) -> tuple[list[str], str]:
        name = self.settings.parity.queries_file
        if not name:
            self.queries = len(old.samples)
            return [query for _, query in old.samples], (
                f"{len(old.samples)} windows of old chunk texts (seed "
                f"{self.settings.parity.seed})"
            )
        path = Path(name).expanduser()
        if not path.is_absolute() and self.settings.config_path is not None:
            path = self.settings.config_path.parent / path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"parity.queries_file {path} cannot be read: {exc.strerror}"
            ) from exc
        queries = [line.strip() for line in lines if line.strip()]
        self.queries = len(queries)
        return queries, str(path)

    def _search(
        self,
        queries: list[str],
        old_embedder: Embedder,
        new_embedder: Embedder,
        normaliser: KeyNormaliser,
        layout: Layout,
    ) -> list[checks.QueryOutcome]:
        if not queries:
            return []
        new_vectors, _ = new_embedder.encode(queries)
        old_vectors = (
            new_vectors
            if old_embedder is new_embedder
            else old_embedder.encode(queries)[0]
        )
        k = self.settings.parity.top_k
        limit = k * CHUNKS_PER_DOCUMENT
        old_fields, new_fields = layout.payload_roots(), ["document_id"]
        outcomes = []
        for query, old_vector, new_vector in zip(
            queries, old_vectors, new_vectors, strict=True
        ):
            old_hits = self.old_reader.search(
                self.old_name, old_vector.tolist(), limit, old_fields
            )
            new_hits = self.new_reader.search(
                self.new_name, new_vector.tolist(), limit, new_fields
            )
            outcomes.append(
                checks.QueryOutcome(
                    query,
                    _top_documents(
                        (
                            normaliser(
                                field_value(h.payload, layout.document_key_field)
                            )
                            for h in old_hits
                        ),
                        k,
                    ),
                    _top_documents((h.payload.get("document_id") for h in new_hits), k),
                )
            )
        return outcomes

    def _paired_vectors(
        self, pairs: Sequence[tuple[str | int, str | int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        old_rows, new_rows = [], []
        for begin in range(0, len(pairs), RETRIEVE_BATCH):
            batch = pairs[begin : begin + RETRIEVE_BATCH]
            old_by_id = _vectors_by_id(
                self.old_reader, self.old_name, [o for o, _ in batch]
            )
            new_by_id = _vectors_by_id(
                self.new_reader, self.new_name, [n for _, n in batch]
            )
            for old_id, new_id in batch:
                if str(old_id) in old_by_id and str(new_id) in new_by_id:
                    old_rows.append(old_by_id[str(old_id)])
                    new_rows.append(new_by_id[str(new_id)])
        self.vector_pairs = len(old_rows)
        return np.array(old_rows, dtype=np.float32), np.array(
            new_rows, dtype=np.float32
        )


def _same_model(old: str, new: str) -> bool:
    """Two names of one model (``all-MiniLM-L6-v2`` and its hub name) are the same."""
    if old == new:
        return True
    try:
        return resolve_model_location(old)[0] == resolve_model_location(new)[0]
    except EmbedderError:
        return False


def _vectors_by_id(
    reader: Reader, collection: str, ids: list[str | int]
) -> dict[str, list[float]]:
    return {str(r.id): r.vector for r in reader.retrieve(collection, ids) if r.vector}


def _top_documents(keys: Any, k: int) -> list[str]:
    """Document keys in order of their best chunk, each once, at most ``k``."""
    seen: list[str] = []
    for key in keys:
        if key is not None and key not in seen:
            seen.append(str(key))
            if len(seen) == k:
                break
    return seen


def _parameters(settings: Settings, models: _ModelChecks) -> dict[str, Any]:
    parity = settings.parity
    return {
        "old_model": parity.old_model or "unknown",
        "new_model": settings.embedding.model,
        "text_field": parity.text_field,
        "document_key_field": parity.document_key_field,
        "document_key_normaliser": parity.document_key_normaliser,
        "source_field": parity.source_field,
        "seed": parity.seed,
        "top_k": parity.top_k,
        "sample_queries": parity.sample_queries,
        "queries": models.queries,
        "vector_pairs": models.vector_pairs,
    }
