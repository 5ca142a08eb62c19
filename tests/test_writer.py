"""Upsert batches: bounded by count and bytes, retried where a retry can succeed."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from config import UpsertSettings
from qdrant_store.writer import UpsertWriter, split_batches
from tests.doubles import FlakyQdrant, fault

DIM = 8


def _points(
    n: int, text_bytes: int = 10
) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, str(i))) for i in range(n)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    payloads = [
        {"source": "s", "document_id": f"doc{i // 10}", "text": "x" * text_bytes}
        for i in range(n)
    ]
    return ids, vectors, payloads


@pytest.fixture
def client() -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection(
        "points",
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
    )
    return client


def test_batches_are_bounded_by_point_count_and_by_bytes() -> None:
    ids, vectors, payloads = _points(100, text_bytes=1000)

    by_count = split_batches(ids, vectors, payloads, max_points=30, max_bytes=10**9)
    by_bytes = split_batches(ids, vectors, payloads, max_points=1000, max_bytes=5000)

    assert [len(b) for b in by_count] == [30, 30, 30, 10]
    assert all(b.size_bytes <= 5000 for b in by_bytes)
    assert sum(len(b) for b in by_bytes) == 100
    assert len(by_bytes) == 25


def test_transient_faults_at_ten_percent_still_write_every_point(
    client: QdrantClient,
) -> None:
    flaky = FlakyQdrant(client, rate=0.10, seed=3)
    writer = UpsertWriter(
        flaky, "points", UpsertSettings(batch_points=20), sleep=lambda _: None
    )
    ids, vectors, payloads = _points(2000)

    writer.put(ids, vectors, payloads)
    result = writer.close()

    assert result.failures == []
    assert result.written == 2000
    assert client.count("points", exact=True).count == 2000
    assert set(flaky.injected) == {"timeout", "reset", "503", "429"}
    assert result.retries >= sum(flaky.injected.values())


def test_a_429_waits_as_long_as_the_server_asks(client: QdrantClient) -> None:
    waits: list[float] = []
    flaky = FlakyQdrant(client, rate=1.0, kinds=["429"], retry_after=7)
    writer = UpsertWriter(
        flaky, "points", UpsertSettings(max_retries=2), sleep=waits.append
    )

    writer.put(*_points(5))
    result = writer.close()

    assert waits == [7.0, 7.0]
    assert result.written == 0
    assert "gave up after 3 tries: 429" in result.failures[0].reason


def test_a_400_fails_its_batch_at_once_with_the_servers_message_and_documents(
    client: QdrantClient,
) -> None:
    waits: list[float] = []
    flaky = FlakyQdrant(client, rate=1.0, kinds=["400"])
    writer = UpsertWriter(
        flaky, "points", UpsertSettings(batch_points=100), sleep=waits.append
    )

    writer.put(*_points(25))
    result = writer.close()

    assert waits == []
    assert result.requests == 1
    [failure] = result.failures
    assert failure.points == 25
    assert "Vector dimension error: expected dim: 384, got 3" in failure.reason
    assert failure.documents == ["s/doc0", "s/doc1", "s/doc2"]


class _TimesOutWhenLarge:
    """A fake server that times out on any request of more than ``limit`` points."""

    def __init__(self, client: QdrantClient, limit: int) -> None:
        self.client = client
        self.limit = limit
        self.sizes: list[int] = []

    def upsert(self, collection: str, points: models.Batch, wait: bool) -> Any:
        self.sizes.append(len(points.ids))
        if len(points.ids) > self.limit:
            raise fault("timeout")
        return self.client.upsert(collection, points=points, wait=wait)


def test_a_timeout_on_a_large_request_splits_the_batch(client: QdrantClient) -> None:
    server = _TimesOutWhenLarge(client, limit=40)
    writer = UpsertWriter(server, "points", UpsertSettings(batch_points=200))  # type: ignore[arg-type]

    writer.put(*_points(200))
    result = writer.close()

    assert result.written == 200
    assert server.sizes[:3] == [200, 100, 50]
    assert max(size for size in server.sizes if size <= 40) == 25
    assert client.count("points", exact=True).count == 200


def test_every_write_waits_for_the_server_to_apply_it(client: QdrantClient) -> None:
    calls: list[bool] = []

    class Recorder:
        def upsert(self, collection: str, points: models.Batch, wait: bool) -> Any:
            calls.append(wait)
            return client.upsert(collection, points=points, wait=wait)

    writer = UpsertWriter(Recorder(), "points", UpsertSettings(batch_points=10))  # type: ignore[arg-type]

    writer.put(*_points(35))
    writer.close()

    assert calls == [True, True, True, True]
