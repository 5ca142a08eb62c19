"""Versioned collections, their recorded provenance, and the alias consumers query.

A rebuild never writes into a collection it did not create: it makes
``<alias>__<UTC timestamp>``, records in the collection's metadata what filled it
(model, chunker, pipeline version) and whether the load finished, and only then
moves the alias. A rebuild that died leaves a collection marked ``building``,
which the next rebuild with the same provenance continues.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from qdrant_client import QdrantClient, models

from qdrant_rebuild.errors import ModelMismatchError, StoreError
from qdrant_store.faults import translate

logger = logging.getLogger(__name__)

BUILDING = "building"
COMPLETE = "complete"
SEPARATOR = "__"

_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
}


def versioned_name(alias: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{alias}{SEPARATOR}{stamp}"


def collection_names(client: QdrantClient) -> list[str]:
    try:
        return [c.name for c in client.get_collections().collections]
    except Exception as exc:
        raise translate(exc) from exc


def aliases(client: QdrantClient) -> dict[str, str]:
    """Alias name to collection name."""
    try:
        return {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
    except Exception as exc:
        raise translate(exc) from exc


def resolve(client: QdrantClient, name: str) -> str | None:
    """The collection behind ``name`` (an alias or a collection), or None."""
    target = aliases(client).get(name)
    if target is not None:
        return target
    return name if name in collection_names(client) else None


def manifest(client: QdrantClient, collection: str) -> dict[str, Any]:
    """What the collection's metadata says about how it was filled."""
    try:
        info = client.get_collection(collection)
    except Exception as exc:
        raise translate(exc) from exc
    return dict(info.config.metadata or {})


def create(
    client: QdrantClient,
    name: str,
    *,
    dimension: int,
    distance: str,
    provenance: dict[str, Any],
    payload_indexes: tuple[str, ...],
    on_disk_vectors: bool = False,
) -> None:
    """Create a fresh collection; refuse if one of that name already exists."""
    if name in collection_names(client):
        raise StoreError(
            f"collection {name} already exists; a rebuild never reuses one"
        )
    metadata = {**provenance, "status": BUILDING, "started_at": _now()}
    try:
        client.create_collection(
            name,
            vectors_config=models.VectorParams(
                size=dimension, distance=_DISTANCES[distance], on_disk=on_disk_vectors
            ),
            metadata=metadata,
        )
        for field in payload_indexes:
            client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)
    except Exception as exc:
        raise translate(exc) from exc
    logger.info("created collection %s (%d dimensions, %s)", name, dimension, distance)


def mark_complete(
    client: QdrantClient, collection: str, summary: dict[str, Any]
) -> None:
    metadata = {
        **manifest(client, collection),
        **summary,
        "status": COMPLETE,
        "completed_at": _now(),
    }
    try:
        client.update_collection(collection, metadata=metadata)
    except Exception as exc:
        raise translate(exc) from exc


def update_manifest(
    client: QdrantClient, collection: str, values: dict[str, Any]
) -> None:
    try:
        client.update_collection(
            collection, metadata={**manifest(client, collection), **values}
        )
    except Exception as exc:
        raise translate(exc) from exc


def find_unfinished(client: QdrantClient, alias: str, fingerprint: str) -> str | None:
    """The newest collection of ``alias`` left ``building`` by a run like this one."""
    prefix = f"{alias}{SEPARATOR}"
    for name in sorted(collection_names(client), reverse=True):
        if not name.startswith(prefix):
            continue
        meta = manifest(client, name)
        if meta.get("status") == BUILDING and meta.get("fingerprint") == fingerprint:
            return name
    return None


def check_same_model(
    client: QdrantClient, collection: str, provenance: dict[str, Any], dimension: int
) -> None:
    """Refuse, before any write, to mix another model's vectors into a collection."""
    try:
        params = client.get_collection(collection).config.params.vectors
    except Exception as exc:
        raise translate(exc) from exc
    size = params.size if isinstance(params, models.VectorParams) else None
    recorded = manifest(client, collection).get("model", {})
    ours = provenance["model"]
    if size != dimension or (recorded and recorded.get("name") != ours["name"]):
        theirs = recorded.get("name", "an unrecorded model")
        raise ModelMismatchError(
            f"collection {collection} holds {size}-dimension vectors of {theirs}; "
            f"this run embeds with {ours['name']} ({dimension} dimensions). "
            "Rebuild into a new collection (qdrant-rebuild rebuild) instead of a "
            "backfill, or configure the collection's own model"
        )


def switch_alias(client: QdrantClient, alias: str, collection: str) -> str | None:
    """Point ``alias`` at ``collection`` in one atomic change; return the old target."""
    if alias in collection_names(client):
        raise StoreError(
            f"{alias!r} is a collection, not an alias, so it cannot be switched; "
            "rename the consumers' collection or choose another collection.alias"
        )
    previous = aliases(client).get(alias)
    operations: list[Any] = []
    if previous is not None:
        operations.append(
            models.DeleteAliasOperation(
                delete_alias=models.DeleteAlias(alias_name=alias)
            )
        )
    operations.append(
        models.CreateAliasOperation(
            create_alias=models.CreateAlias(
                collection_name=collection, alias_name=alias
            )
        )
    )
    try:
        client.update_collection_aliases(change_aliases_operations=operations)
    except Exception as exc:
        raise translate(exc) from exc
    logger.info("alias %s now points at %s (was %s)", alias, collection, previous)
    return previous


def count(
    client: QdrantClient, collection: str, flt: models.Filter | None = None
) -> int:
    try:
        return client.count(collection, count_filter=flt, exact=True).count
    except Exception as exc:
        raise translate(exc) from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def wait_for_new_second() -> None:
    """Versioned names have one-second resolution; keep two builds apart."""
    time.sleep(1.0 - (time.time() % 1.0) + 0.01)
