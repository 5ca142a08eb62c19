"""Bulk upserts that run beside the model: bounded batches, retries, honest failures.

Points are handed over in groups and written by one background thread, so the
next embedding batch is computed while the last one is being stored. Each upsert
request is bounded by point count and by serialised bytes, waits for the server
to apply it, and is retried only where a retry can succeed.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from config import UpsertSettings
from qdrant_rebuild.errors import StoreError
from qdrant_store.faults import is_timeout, translate

logger = logging.getLogger(__name__)

# A float in a JSON request body takes up to about a dozen characters.
_BYTES_PER_FLOAT = 12
_POINT_OVERHEAD = 64


@dataclass
class UpsertBatch:
    ids: list[str]
    vectors: np.ndarray
    payloads: list[dict[str, Any]]
    size_bytes: int

    def __len__(self) -> int:
        return len(self.ids)

    def halves(self) -> tuple[UpsertBatch, UpsertBatch]:
        mid = len(self) // 2
        first_bytes = self.size_bytes * mid // len(self)
        return (
            UpsertBatch(
                self.ids[:mid], self.vectors[:mid], self.payloads[:mid], first_bytes
            ),
            UpsertBatch(
                self.ids[mid:],
                self.vectors[mid:],
                self.payloads[mid:],
                self.size_bytes - first_bytes,
            ),
        )

    def documents(self) -> list[str]:
        return sorted({f"{p['source']}/{p['document_id']}" for p in self.payloads})


@dataclass
class FailedBatch:
    """Points that could not be written, the server's reason, and their documents."""

    reason: str
    documents: list[str]
    points: int


@dataclass
class WriteResult:
    written: int = 0
    requests: int = 0
    retries: int = 0
    failures: list[FailedBatch] = field(default_factory=list)


def split_batches(
    ids: Sequence[str],
    vectors: np.ndarray,
    payloads: Sequence[dict[str, Any]],
    max_points: int,
    max_bytes: int,
) -> list[UpsertBatch]:
    """Cut points into upsert batches bounded by count and by estimated bytes."""
    vector_bytes = vectors.shape[1] * _BYTES_PER_FLOAT + _POINT_OVERHEAD
    batches: list[UpsertBatch] = []
    begin = 0
    size = 0
    for i, body in enumerate(payloads):
        point_bytes = vector_bytes + len(json.dumps(body, ensure_ascii=False))
        if i > begin and (i - begin >= max_points or size + point_bytes > max_bytes):
            batches.append(
                UpsertBatch(
                    list(ids[begin:i]), vectors[begin:i], list(payloads[begin:i]), size
                )
            )
            begin, size = i, 0
        size += point_bytes
    if begin < len(payloads):
        batches.append(
            UpsertBatch(
                list(ids[begin:]), vectors[begin:], list(payloads[begin:]), size
            )
        )
    return batches


class UpsertWriter:
    """Writes upsert batches on a background thread; ``close`` returns the tally.

    ``put`` blocks when a few batches are already waiting, so a fast producer
    cannot pile up vectors in memory.
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        settings: UpsertSettings,
        on_written: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.collection = collection
        self.settings = settings
        self.on_written = on_written
        self.sleep = sleep
        self.result = WriteResult()
        self._queue: queue.Queue[UpsertBatch | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="upsert", daemon=True)
        self._thread.start()

    def put(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict[str, Any]],
    ) -> None:
        for batch in split_batches(
            ids,
            vectors,
            payloads,
            self.settings.batch_points,
            self.settings.batch_bytes,
        ):
            self._raise_if_broken()
            self._queue.put(batch)

    def close(self) -> WriteResult:
        self._queue.put(None)
        self._thread.join()
        self._raise_if_broken()
        return self.result

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise StoreError(
                f"the upsert thread stopped: {self._error}"
            ) from self._error

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None:
                continue
            try:
                self.write(batch)
            except BaseException as exc:  # surfaced to the producer by put/close
                self._error = exc

    def write(self, batch: UpsertBatch) -> None:
        """Write one batch: retry what is transient, split what may be too large."""
        attempt = 0
        while True:
            try:
                self.result.requests += 1
                self.client.upsert(
                    self.collection,
                    points=models.Batch(
                        ids=list(batch.ids),
                        vectors=batch.vectors.tolist(),
                        payloads=list(batch.payloads),
                    ),
                    wait=True,
                )
            except Exception as exc:
                error = translate(exc)
                if not error.transient:
                    self._fail(batch, f"Qdrant refused the upsert: {error}")
                    return
                if is_timeout(error) and len(batch) > 1:
                    # A request that times out may simply be too large: halve it.
                    logger.warning(
                        "upsert of %d points (%d bytes) timed out; splitting it",
                        len(batch),
                        batch.size_bytes,
                    )
                    self.result.retries += 1
                    for half in batch.halves():
                        self.write(half)
                    return
                attempt += 1
                if attempt > self.settings.max_retries:
                    self._fail(batch, f"gave up after {attempt} tries: {error}")
                    return
                delay = self._delay(attempt, getattr(error, "retry_after", None))
                logger.warning(
                    "upsert of %d points failed (%s); retry %d/%d in %.1f s",
                    len(batch),
                    error,
                    attempt,
                    self.settings.max_retries,
                    delay,
                )
                self.result.retries += 1
                self.sleep(delay)
                continue
            self.result.written += len(batch)
            logger.debug("upserted %d points into %s", len(batch), self.collection)
            if self.on_written is not None:
                self.on_written(len(batch))
            return

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.max_backoff_seconds)
        ceiling = self.settings.backoff_seconds * 2 ** (attempt - 1)
        # Full jitter keeps many workers from retrying in step.
        return random.uniform(0, min(ceiling, self.settings.max_backoff_seconds))

    def _fail(self, batch: UpsertBatch, reason: str) -> None:
        documents = batch.documents()
        logger.error(
            "%d points of %d documents were not written: %s",
            len(batch),
            len(documents),
            reason,
        )
        self.result.failures.append(FailedBatch(reason, documents, len(batch)))
