"""The Qdrant side: clients, versioned collections and aliases, points, bulk writes."""

from qdrant_store.client import close_embedded, connect, connect_to
from qdrant_store.faults import translate
from qdrant_store.points import STATE_FIELDS, payload, point_id
from qdrant_store.writer import UpsertWriter, WriteResult

__all__ = [
    "STATE_FIELDS",
    "UpsertWriter",
    "WriteResult",
    "close_embedded",
    "connect",
    "connect_to",
    "payload",
    "point_id",
    "translate",
]
