"""Version-aware, read-only access to a collection, on the embedded store or a server.

A reader only ever reads. Old servers lack calls that current qdrant-client makes
(``query_points`` came in Qdrant 1.10, ``collection_exists`` in 1.8, and the client
no longer has ``search``), so a server older than 1.10 is read through the REST
endpoints every 1.x server has: collections, aliases, scroll, count, retrieve and
``points/search``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from qdrant_client import QdrantClient, models

from qdrant_rebuild.errors import ParityError

logger = logging.getLogger(__name__)

QUERY_POINTS_SINCE = (1, 10, 0)
PAGE_SIZE = 256


@dataclass(frozen=True)
class Record:
    """One point as read: its id, the payload asked for, and maybe its vector."""

    id: str | int
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass(frozen=True)
class VectorSpace:
    size: int
    distance: str
    name: str | None = None


class Reader(Protocol):
    """What parity needs from a Qdrant store, read-only."""

    server: str
    version: str

    def resolve(self, name: str) -> str: ...

    def vector_space(self, collection: str) -> VectorSpace: ...

    def count(self, collection: str) -> int: ...

    def scroll(
        self,
        collection: str,
        fields: Sequence[str] | None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Record]:
        """Every point with the payload ``fields`` (None: the whole payload)."""
        ...

    def retrieve(self, collection: str, ids: Sequence[str | int]) -> list[Record]: ...

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        fields: Sequence[str],
    ) -> list[Record]: ...


def parse_version(text: str) -> tuple[int, int, int]:
    numbers = []
    for part in text.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits or 0))
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def public_url(url: str) -> str:
    """The URL without user, password or query, fit for a report or a log."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    return str(
        parsed.copy_with(username=None, password=None, query=None, fragment=None)
    )


def is_local(client: QdrantClient) -> bool:
    options = client.init_options
    return bool(options.get("location") == ":memory:" or options.get("path"))


def reader_for_client(
    client: QdrantClient, url: str = "", api_key: str | None = None
) -> Reader:
    """The reader for a client: itself when it can query, REST for older servers."""
    if is_local(client):
        return ClientReader(client)
    try:
        version = client.info().version
    except Exception as exc:
        raise ParityError(
            f"cannot read the version of the Qdrant server at {public_url(url)}: "
            f"{type(exc).__name__}; check the URL and the API key"
        ) from exc
    if parse_version(version) >= QUERY_POINTS_SINCE:
        return ClientReader(client, server=public_url(url), version=version)
    if not url:
        raise ParityError(
            f"the Qdrant server is version {version}, older than 1.10, and is read "
            "over REST: give its URL (parity.old_url or qdrant.url)"
        )
    return RestReader(url, api_key)


class ClientReader:
    """Reads through qdrant-client: the embedded store, or a server of 1.10 or later."""

    def __init__(
        self, client: QdrantClient, server: str | None = None, version: str = ""
    ) -> None:
        self.client = client
        if server is None:
            path = client.init_options.get("path")
            server = f"embedded Qdrant at {path}" if path else "embedded Qdrant"
        self.server = server
        if not version:
            from importlib.metadata import version as package_version

            version = f"qdrant-client {package_version('qdrant-client')} (local)"
        self.version = version
        self._spaces: dict[str, VectorSpace] = {}

    def _fail(self, what: str, collection: str, exc: Exception) -> ParityError:
        return ParityError(
            f"cannot {what} collection {collection} on {self.server}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )

    def resolve(self, name: str) -> str:
        try:
            aliases = {a.alias_name: a.collection_name for a in self._aliases()}
            names = [c.name for c in self.client.get_collections().collections]
        except Exception as exc:
            raise self._fail("list collections to find", name, exc) from exc
        if name in aliases:
            return aliases[name]
        if name in names:
            return name
        raise ParityError(
            f"collection {name} does not exist on {self.server} "
            f"(collections: {', '.join(sorted(names)) or 'none'})"
        )

    def _aliases(self) -> list[models.AliasDescription]:
        return list(self.client.get_aliases().aliases)

    def vector_space(self, collection: str) -> VectorSpace:
        if collection in self._spaces:
            return self._spaces[collection]
        try:
            vectors = self.client.get_collection(collection).config.params.vectors
        except Exception as exc:
            raise self._fail("describe", collection, exc) from exc
        if isinstance(vectors, models.VectorParams):
            space = VectorSpace(vectors.size, str(vectors.distance.value))
        else:
            space = _single_named(
                {
                    k: (v.size, str(v.distance.value))
                    for k, v in (vectors or {}).items()
                },
                collection,
                self.server,
            )
        self._spaces[collection] = space
        return space

    def count(self, collection: str) -> int:
        try:
            return self.client.count(collection, exact=True).count
        except Exception as exc:
            raise self._fail("count", collection, exc) from exc

    def scroll(
        self,
        collection: str,
        fields: Sequence[str] | None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Record]:
        offset: Any = None
        while True:
            try:
                points, offset = self.client.scroll(
                    collection,
                    limit=page_size,
                    offset=offset,
                    with_payload=True if fields is None else list(fields),
                    with_vectors=False,
                )
            except Exception as exc:
                raise self._fail("scroll", collection, exc) from exc
            for point in points:
                yield Record(_point_id(point.id), dict(point.payload or {}))
            if offset is None:
                return

    def retrieve(self, collection: str, ids: Sequence[str | int]) -> list[Record]:
        name = self.vector_space(collection).name
        try:
            points = self.client.retrieve(
                collection, list(ids), with_payload=False, with_vectors=True
            )
        except Exception as exc:
            raise self._fail("retrieve points of", collection, exc) from exc
        return [
            Record(_point_id(p.id), {}, _pick_vector(p.vector, name)) for p in points
        ]

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        fields: Sequence[str],
    ) -> list[Record]:
        name = self.vector_space(collection).name
        try:
            points = self.client.query_points(
                collection,
                query=list(vector),
                using=name,
                limit=limit,
                with_payload=list(fields),
            ).points
        except Exception as exc:
            raise self._fail("search", collection, exc) from exc
        return [Record(_point_id(p.id), dict(p.payload or {})) for p in points]


class RestReader:
    """Reads a Qdrant server of any 1.x version over its REST API, with httpx.

    Only endpoints that Qdrant 1.0 already had are used. A 404 is taken for a
    missing collection only when the collection list says so; otherwise it means
    the server lacks the call, and is reported as that.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0):
        self.server = public_url(url)
        headers = {"api-key": api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout
        )
        self._spaces: dict[str, VectorSpace] = {}
        info = self._call("GET", "/", None, "read the version of")
        self.version = str(info.get("version", "unknown"))
        logger.info("old Qdrant at %s is version %s", self.server, self.version)

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> Any:
        collection = path.split("/")[2] if path.startswith("/collections/") else None
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ParityError(
                f"cannot {what} {collection or 'the server'}: Qdrant at {self.server} "
                f"did not answer ({type(exc).__name__}); check parity.old_url"
            ) from exc
        if response.status_code in (401, 403):
            raise ParityError(
                f"Qdrant at {self.server} refused to {what} {collection or 'it'} "
                f"({response.status_code}); check OLD_QDRANT_API_KEY"
            )
        if response.status_code == 404 and collection is not None:
            raise self._not_found(collection, method, path)
        if response.status_code >= 400:
            raise ParityError(
                f"Qdrant {self.version_text} at {self.server} answered "
                f"{response.status_code} to {method} {path}: {_reason(response)}"
            )
        try:
            body_json = response.json()
        except ValueError:
            raise ParityError(
                f"{self.server} answered {method} {path} with something other than "
                "JSON; is parity.old_url the REST address of a Qdrant server?"
            ) from None
        return body_json.get("result", body_json) if path != "/" else body_json

    @property
    def version_text(self) -> str:
        return getattr(self, "version", "")

    def _not_found(self, collection: str, method: str, path: str) -> ParityError:
        names = self._collection_names()
        if collection in names:
            return ParityError(
                f"Qdrant {self.version_text} at {self.server} answered 404 to "
                f"{method} {path} although collection {collection} exists: this "
                "server version lacks the call"
            )
        return ParityError(
            f"collection {collection} does not exist on Qdrant {self.version_text} "
            f"at {self.server} (collections: {', '.join(sorted(names)) or 'none'})"
        )

    def _collection_names(self) -> list[str]:
        result = self._call("GET", "/collections", None, "list the collections of")
        return [c["name"] for c in result.get("collections", [])]

    def _aliases(self) -> dict[str, str]:
        try:
            response = self._http.get("/aliases")
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        aliases = response.json().get("result", {}).get("aliases", [])
        return {a["alias_name"]: a["collection_name"] for a in aliases}

    def resolve(self, name: str) -> str:
        names = self._collection_names()
        aliases = self._aliases()
        if name in aliases:
            return aliases[name]
        if name in names:
            return name
        raise ParityError(
            f"collection {name} does not exist on Qdrant {self.version} at "
            f"{self.server} (collections: {', '.join(sorted(names)) or 'none'})"
        )

    def vector_space(self, collection: str) -> VectorSpace:
        if collection not in self._spaces:
            info = self._call(
                "GET", f"/collections/{collection}", None, "describe collection"
            )
            vectors = info["config"]["params"]["vectors"]
            if "size" in vectors:
                space = VectorSpace(int(vectors["size"]), str(vectors["distance"]))
            else:
                space = _single_named(
                    {
                        k: (int(v["size"]), str(v["distance"]))
                        for k, v in vectors.items()
                    },
                    collection,
                    self.server,
                )
            self._spaces[collection] = space
        return self._spaces[collection]

    def count(self, collection: str) -> int:
        path = f"/collections/{collection}/points/count"
        return int(self._call("POST", path, {"exact": True}, "count")["count"])

    def scroll(
        self,
        collection: str,
        fields: Sequence[str] | None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Record]:
        path = f"/collections/{collection}/points/scroll"
        offset: Any = None
        while True:
            body: dict[str, Any] = {
                "limit": page_size,
                "with_payload": True if fields is None else list(fields),
                "with_vector": False,
            }
            if offset is not None:
                body["offset"] = offset
            page = self._call("POST", path, body, "scroll")
            for point in page.get("points", []):
                yield Record(point["id"], dict(point.get("payload") or {}))
            offset = page.get("next_page_offset")
            if offset is None:
                return

    def retrieve(self, collection: str, ids: Sequence[str | int]) -> list[Record]:
        name = self.vector_space(collection).name
        body = {"ids": list(ids), "with_payload": False, "with_vector": True}
        points = self._call("POST", f"/collections/{collection}/points", body, "read")
        return [
            Record(p["id"], {}, _pick_vector(p.get("vector"), name)) for p in points
        ]

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        fields: Sequence[str],
    ) -> list[Record]:
        name = self.vector_space(collection).name
        query: Any = list(vector) if name is None else {"name": name, "vector": vector}
        body = {"vector": query, "limit": limit, "with_payload": list(fields)}
        path = f"/collections/{collection}/points/search"
        hits = self._call("POST", path, body, "search")
        return [Record(h["id"], dict(h.get("payload") or {})) for h in hits]


def _single_named(
    spaces: dict[str, tuple[int, str]], collection: str, server: str
) -> VectorSpace:
    if len(spaces) != 1:
        raise ParityError(
            f"collection {collection} on {server} has named vectors "
            f"{sorted(spaces) or 'none'}; parity reads a collection with one vector"
        )
    name, (size, distance) = next(iter(spaces.items()))
    return VectorSpace(size, distance, name)


def _point_id(value: Any) -> str | int:
    return value if isinstance(value, int) else str(value)


def _pick_vector(vector: Any, name: str | None) -> list[float] | None:
    if isinstance(vector, dict):
        vector = vector.get(name or "")
    return list(vector) if isinstance(vector, list) else None


def _reason(response: httpx.Response) -> str:
    try:
        status = response.json().get("status")
    except ValueError:
        return response.text[:200]
    if isinstance(status, dict) and "error" in status:
        return str(status["error"])[:200]
    return response.text[:200]
