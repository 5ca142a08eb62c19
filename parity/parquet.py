"""A collection as a Parquet file: ids, vectors and payloads, streamed page by page.

Export holds one scroll page at a time, so memory stays bounded whatever the
collection's size. The file's schema metadata records each vector's size and
distance, so import can create the collection again. Dense vectors only, one
unnamed vector or several named ones; for sparse or multi-vectors use Qdrant's
own snapshots instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from qdrant_client import QdrantClient, models

from qdrant_rebuild.errors import StoreError
from qdrant_store.faults import translate

logger = logging.getLogger(__name__)

FORMAT = "qdrant-rebuild.collection/1"
META_FORMAT = b"qdrant_rebuild.format"
META_COLLECTION = b"qdrant_rebuild.collection"
META_VECTORS = b"qdrant_rebuild.vectors"
META_POINTS = b"qdrant_rebuild.points"
# The unnamed vector's column; named vectors are "vector.<name>".
VECTOR_COLUMN = "vector"


def export_collection(
    client: QdrantClient, collection: str, path: str | Path, page_size: int = 1000
) -> int:
    """Write every point of ``collection`` to a Parquet file, one row group a page;
    returns the number of points written."""
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path} is a folder; name the Parquet file to write")
    spaces = _vector_spaces(client, collection)
    schema = _schema(spaces).with_metadata(
        {
            META_FORMAT: FORMAT.encode(),
            META_COLLECTION: collection.encode(),
            META_VECTORS: json.dumps(spaces).encode(),
            META_POINTS: str(_count(client, collection)).encode(),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        written = _write_pages(client, collection, partial, schema, spaces, page_size)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    # A file appears under its name only once it is whole.
    partial.replace(path)
    logger.info("exported %d points of %s to %s", written, collection, path)
    return written


def _write_pages(
    client: QdrantClient,
    collection: str,
    path: Path,
    schema: pa.Schema,
    spaces: dict[str, dict[str, Any]],
    page_size: int,
) -> int:
    written = 0
    offset: Any = None
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while True:
            try:
                points, offset = client.scroll(
                    collection,
                    limit=page_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=True,
                )
            except Exception as exc:
                raise translate(exc) from exc
            if points:
                writer.write_table(_page_table(points, spaces, schema))
                written += len(points)
                logger.debug("exported %d points of %s", written, collection)
            if offset is None:
                return written


def import_collection(
    client: QdrantClient,
    path: str | Path,
    collection: str,
    replace: bool = False,
    batch_size: int = 256,
) -> int:
    """Create ``collection`` from a file written by export_collection; returns the
    number of points imported.

    Refuses an existing collection unless ``replace``; then only that collection
    is dropped. Each batch is upserted with wait=True.
    """
    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreError(f"{path} is not a readable Parquet file: {exc}") from exc
    metadata = parquet.schema_arrow.metadata or {}
    if metadata.get(META_FORMAT) != FORMAT.encode():
        raise StoreError(
            f"{path} was not written by `qdrant-rebuild export` (no {FORMAT} marker)"
        )
    spaces: dict[str, dict[str, Any]] = json.loads(metadata[META_VECTORS])
    # The whole file is checked before anything is dropped or created.
    wanted = ["id", "payload"] + (
        [VECTOR_COLUMN]
        if list(spaces) == [""]
        else [f"{VECTOR_COLUMN}.{name}" for name in spaces]
    )
    missing = [name for name in wanted if name not in parquet.schema_arrow.names]
    if missing:
        raise StoreError(
            f"{path} lacks the column(s) {', '.join(missing)}; it is not a whole "
            "export: export the collection again"
        )
    promised = int(metadata.get(META_POINTS, b"-1"))
    if promised >= 0 and parquet.metadata.num_rows != promised:
        raise StoreError(
            f"{path} holds {parquet.metadata.num_rows} points but was exported "
            f"with {promised}; export the collection again"
        )
    _make_room(client, collection, replace)
    try:
        client.create_collection(collection, vectors_config=_vectors_config(spaces))
    except Exception as exc:
        raise translate(exc) from exc

    written = 0
    for batch in parquet.iter_batches(batch_size=batch_size):
        ids: list[Any] = [_point_id(v) for v in batch.column("id").to_pylist()]
        payloads = [json.loads(text) for text in batch.column("payload").to_pylist()]
        vectors: Any
        if list(spaces) == [""]:
            vectors = _column_vectors(batch, VECTOR_COLUMN)
        else:
            vectors = {
                name: _column_vectors(batch, f"{VECTOR_COLUMN}.{name}")
                for name in spaces
            }
        try:
            client.upsert(
                collection,
                points=models.Batch(ids=ids, vectors=vectors, payloads=payloads),
                wait=True,
            )
        except Exception as exc:
            raise translate(exc) from exc
        written += len(ids)
    logger.info("imported %d points from %s into %s", written, path, collection)
    return written


def _vector_spaces(client: QdrantClient, collection: str) -> dict[str, dict[str, Any]]:
    """Vector name ("" when unnamed) to size and distance."""
    try:
        info = client.get_collection(collection)
    except Exception as exc:
        raise translate(exc) from exc
    vectors = info.config.params.vectors
    if info.config.params.sparse_vectors:
        raise NotImplementedError(
            f"{collection} has sparse vectors, which Parquet export does not "
            "carry; use a Qdrant snapshot instead"
        )
    named = {"": vectors} if isinstance(vectors, models.VectorParams) else vectors
    spaces = {}
    for name, params in (named or {}).items():
        if params.multivector_config is not None:
            raise NotImplementedError(
                f"{collection} has multi-vectors, which Parquet export does not "
                "carry; use a Qdrant snapshot instead"
            )
        spaces[name] = {"size": params.size, "distance": params.distance.value}
    return spaces


def _schema(spaces: dict[str, dict[str, Any]]) -> pa.Schema:
    fields = [pa.field("id", pa.string(), nullable=False)]
    for name, space in spaces.items():
        column = VECTOR_COLUMN if name == "" else f"{VECTOR_COLUMN}.{name}"
        fields.append(pa.field(column, pa.list_(pa.float32(), space["size"])))
    fields.append(pa.field("payload", pa.string(), nullable=False))
    return pa.schema(fields)


def _page_table(
    points: list[models.Record], spaces: dict[str, dict[str, Any]], schema: pa.Schema
) -> pa.Table:
    columns: list[pa.Array] = [pa.array([str(p.id) for p in points], pa.string())]
    for name, space in spaces.items():
        rows = [_vector_of(p.vector, name) for p in points]
        flat = np.asarray(rows, dtype=np.float32).reshape(-1)
        columns.append(pa.FixedSizeListArray.from_arrays(flat, space["size"]))
    payloads = [json.dumps(p.payload or {}, ensure_ascii=False) for p in points]
    columns.append(pa.array(payloads, pa.string()))
    return pa.Table.from_arrays(columns, schema=schema)


def _vector_of(vector: Any, name: str) -> Any:
    return vector.get(name) if isinstance(vector, dict) else vector


def _column_vectors(batch: pa.RecordBatch, column: str) -> list[list[float]]:
    values = batch.column(column)
    size = values.type.list_size
    flat = values.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(-1, size).tolist()


def _point_id(value: str) -> str | int:
    # Qdrant ids are unsigned integers or UUIDs; a UUID string never is all digits.
    return int(value) if value.isdigit() else value


def _vectors_config(
    spaces: dict[str, dict[str, Any]],
) -> models.VectorParams | dict[str, models.VectorParams]:
    params = {
        name: models.VectorParams(
            size=space["size"], distance=models.Distance(space["distance"])
        )
        for name, space in spaces.items()
    }
    return params[""] if list(params) == [""] else params


def _make_room(client: QdrantClient, collection: str, replace: bool) -> None:
    try:
        names = [c.name for c in client.get_collections().collections]
        aliases = {
            a.alias_name: a.collection_name for a in client.get_aliases().aliases
        }
    except Exception as exc:
        raise translate(exc) from exc
    if collection in aliases:
        raise StoreError(
            f"{collection} is an alias of {aliases[collection]}; import into a "
            "collection name of its own"
        )
    if collection not in names:
        return
    if not replace:
        raise StoreError(
            f"collection {collection} already exists; import with --replace to "
            "drop it and import again"
        )
    pointing = sorted(a for a, target in aliases.items() if target == collection)
    if pointing:
        raise StoreError(
            f"collection {collection} is what alias {', '.join(pointing)} points at; "
            "replacing it would leave consumers without it: import under another "
            "name, or move the alias first"
        )
    logger.warning("dropping collection %s to import it again", collection)
    try:
        client.delete_collection(collection)
    except Exception as exc:
        raise translate(exc) from exc


def _count(client: QdrantClient, collection: str) -> int:
    try:
        return client.count(collection, exact=True).count
    except Exception as exc:
        raise translate(exc) from exc
