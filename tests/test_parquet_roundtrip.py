"""Collections exported to Parquet and imported again, in the embedded Qdrant."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from qdrant_client import QdrantClient, models

from parity.parquet import export_collection, import_collection
from qdrant_rebuild.errors import StoreError


@pytest.fixture
def client() -> QdrantClient:
    return QdrantClient(":memory:")


def make(
    client: QdrantClient,
    name: str,
    points: int = 23,
    distance: models.Distance = models.Distance.DOT,
    vectors: Any = None,
) -> None:
    rng = np.random.default_rng(5)
    config = vectors or models.VectorParams(size=6, distance=distance)
    client.create_collection(name, vectors_config=config)
    ids: list[int | str] = [
        i if i % 3 else str(uuid.UUID(bytes=rng.bytes(16), version=4))
        for i in range(points)
    ]
    payloads = [
        {
            "text": f"chunk {i} — ünïcode",
            "chunk_index": i,
            "score": i / 7,
            "heading_path": ["A", "B"],
            "metadata": {"source": f"/home/x/{i}.md", "empty": None, "n": [1, 2.5]},
        }
        for i in range(points)
    ]
    if isinstance(config, dict):
        vector_data: Any = {
            key: rng.normal(size=(points, params.size)).astype(np.float32).tolist()
            for key, params in config.items()
        }
    else:
        vector_data = rng.normal(size=(points, 6)).astype(np.float32).tolist()
    client.upsert(
        name,
        points=models.Batch(ids=ids, vectors=vector_data, payloads=payloads),
        wait=True,
    )


def everything(client: QdrantClient, name: str) -> list[tuple[Any, Any, Any]]:
    records, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    return sorted(
        ((r.id, r.vector, r.payload) for r in records), key=lambda r: str(r[0])
    )


def test_export_then_import_gives_the_same_ids_vectors_and_payloads(
    client, tmp_path
) -> None:
    make(client, "source")
    path = tmp_path / "source.parquet"

    exported = export_collection(client, "source", path, page_size=7)
    imported = import_collection(client, path, "copy", batch_size=5)

    assert (exported, imported) == (23, 23)
    assert everything(client, "copy") == everything(client, "source")
    assert pq.ParquetFile(path).num_row_groups == 4


def test_export_writes_the_vectors_bit_for_bit_and_the_vector_space(
    client, tmp_path
) -> None:
    make(client, "cosine", distance=models.Distance.COSINE)
    path = tmp_path / "cosine.parquet"

    export_collection(client, "cosine", path, page_size=10)

    table = pq.read_table(path)
    stored = {str(i): v for i, v, _ in everything(client, "cosine")}
    ids, vectors = table.column("id").to_pylist(), table.column("vector").to_pylist()
    in_file = dict(zip(ids, vectors, strict=True))
    metadata = table.schema.metadata
    assert {k: np.array(v, dtype=np.float32).tobytes() for k, v in in_file.items()} == {
        k: np.array(v, dtype=np.float32).tobytes() for k, v in stored.items()
    }
    assert json.loads(metadata[b"qdrant_rebuild.vectors"]) == {
        "": {"size": 6, "distance": "Cosine"}
    }
    assert metadata[b"qdrant_rebuild.points"] == b"23"


def test_named_vectors_round_trip(client, tmp_path) -> None:
    spaces = {
        "text": models.VectorParams(size=4, distance=models.Distance.DOT),
        "title": models.VectorParams(size=3, distance=models.Distance.EUCLID),
    }
    make(client, "named", points=9, vectors=spaces)
    path = tmp_path / "named.parquet"

    export_collection(client, "named", path)
    import_collection(client, path, "named_copy")

    assert everything(client, "named_copy") == everything(client, "named")
    params = client.get_collection("named_copy").config.params.vectors
    assert {k: (v.size, v.distance) for k, v in params.items()} == {
        "text": (4, models.Distance.DOT),
        "title": (3, models.Distance.EUCLID),
    }


def test_import_refuses_an_existing_collection_unless_told_to_replace(
    client, tmp_path
) -> None:
    make(client, "source")
    make(client, "target", points=3)
    make(client, "bystander", points=2)
    path = tmp_path / "source.parquet"
    export_collection(client, "source", path)

    with pytest.raises(StoreError, match="target already exists; import with --rep"):
        import_collection(client, path, "target")
    kept = client.count("target", exact=True).count
    import_collection(client, path, "target", replace=True)

    assert kept == 3
    assert client.count("target", exact=True).count == 23
    assert client.count("bystander", exact=True).count == 2


def test_import_refuses_to_replace_through_an_alias(client, tmp_path) -> None:
    make(client, "source")
    make(client, "live", points=2)
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name="live", alias_name="kb")
            )
        ]
    )
    path = tmp_path / "source.parquet"
    export_collection(client, "source", path)

    with pytest.raises(StoreError, match="kb is an alias of live"):
        import_collection(client, path, "kb", replace=True)

    assert client.count("live", exact=True).count == 2


def test_import_refuses_a_file_it_did_not_write(client, tmp_path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"id": ["1"], "payload": ["{}"]}), path)

    with pytest.raises(StoreError, match="was not written by `qdrant-rebuild export`"):
        import_collection(client, path, "anything")

    assert client.get_collections().collections == []


def _alias(client: QdrantClient, alias: str, collection: str) -> None:
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(
                    collection_name=collection, alias_name=alias
                )
            )
        ]
    )


def test_import_never_replaces_the_collection_an_alias_points_at(
    client, tmp_path
) -> None:
    make(client, "source")
    make(client, "live", points=2)
    _alias(client, "kb", "live")
    path = tmp_path / "source.parquet"
    export_collection(client, "source", path)

    with pytest.raises(StoreError, match="live is what alias kb points at"):
        import_collection(client, path, "live", replace=True)

    assert client.count("live", exact=True).count == 2
    assert [a.alias_name for a in client.get_aliases().aliases] == ["kb"]


def test_a_damaged_file_is_refused_before_the_collection_it_would_replace_is_dropped(
    client, tmp_path
) -> None:
    make(client, "source")
    make(client, "target", points=3)
    path = tmp_path / "source.parquet"
    export_collection(client, "source", path)
    table = pq.read_table(path)
    no_payload = tmp_path / "no-payload.parquet"
    pq.write_table(table.drop_columns(["payload"]), no_payload)
    short = tmp_path / "short.parquet"
    pq.write_table(table.slice(0, 5), short)

    with pytest.raises(StoreError, match="lacks the column"):
        import_collection(client, no_payload, "target", replace=True)
    with pytest.raises(StoreError, match="holds 5 points but was exported with 23"):
        import_collection(client, short, "target", replace=True)

    assert client.count("target", exact=True).count == 3


def test_export_to_a_folder_names_it_and_leaves_nothing_behind(
    client, tmp_path
) -> None:
    make(client, "source")

    with pytest.raises(StoreError, match="is a folder"):
        export_collection(client, "source", tmp_path)

    assert list(tmp_path.iterdir()) == []
