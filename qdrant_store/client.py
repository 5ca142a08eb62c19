"""Qdrant clients built from config: the embedded store under a folder, or a server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from config import QdrantSettings, Settings
from config.settings import MEMORY
from qdrant_rebuild.errors import ConfigError, StoreError
from qdrant_store.faults import translate

logger = logging.getLogger(__name__)

_embedded: dict[Path, Any] = {}
_embedded_lock = threading.Lock()


def api_key(settings: Settings) -> str | None:
    """The API key from QDRANT_API_KEY, else from the configured Prefect Secret."""
    if settings.secrets.qdrant_api_key is not None:
        return settings.secrets.qdrant_api_key.get_secret_value()
    block = settings.qdrant.api_key_secret_block
    if not block or settings.qdrant.embedded:
        return None
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(block).get()  # type: ignore[union-attr]
    except (ValueError, RuntimeError, OSError) as exc:
        logger.warning(
            "no QDRANT_API_KEY in the environment and Prefect Secret block %r "
            "could not be read (%s); connecting without an API key",
            block,
            type(exc).__name__,
        )
        return None
    return str(value)


def connect(settings: Settings) -> QdrantClient:
    """A client for the configured Qdrant, checked to answer before it is returned.

    The embedded Qdrant admits one client per folder, so clients of the embedded
    store are shared within a process.
    """
    return connect_to(settings.qdrant, api_key(settings))


def connect_to(qdrant: QdrantSettings, key: str | None = None) -> QdrantClient:
    if qdrant.embedded:
        return _embedded_client(Path(qdrant.path))
    if not qdrant.url.startswith(("http://", "https://")):
        raise ConfigError(
            f"qdrant.url {qdrant.url!r} must start with http:// or https://"
        )
    client = QdrantClient(
        url=qdrant.url,
        api_key=key,
        timeout=int(qdrant.timeout_seconds),
        check_compatibility=False,
    )
    try:
        client.get_collections()
    except Exception as exc:
        raise StoreError(
            f"cannot reach Qdrant at {qdrant.url}: {translate(exc)}; check the URL, "
            "the network and QDRANT_API_KEY"
        ) from exc
    return client


def _embedded_client(path: Path) -> QdrantClient:
    in_memory = str(path) == MEMORY
    path = path if in_memory else path.resolve()
    with _embedded_lock:
        client = _embedded.get(path)
        if client is not None:
            return client
        try:
            if in_memory:
                client = QdrantClient(location=MEMORY)
            else:
                path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            # qdrant-client raises RuntimeError when another process holds the folder.
            raise StoreError(
                f"the embedded Qdrant at {path} is in use by another process "
                "(it admits one client at a time); stop that process, or use a "
                "Qdrant server (qdrant.url)"
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"cannot open the embedded Qdrant at {path}: {exc}"
            ) from exc
        serialized = _Serialized(client)
        _embedded[path] = serialized
        logger.debug("opened the embedded Qdrant at %s", path)
        return serialized  # type: ignore[return-value]


class _Serialized:
    """The embedded client with one call at a time.

    The embedded Qdrant keeps its points in plain Python structures and SQLite
    without locks of its own, while a run calls it from several threads (the
    upsert thread, concurrent tasks). A server needs no such guard.
    """

    def __init__(self, client: QdrantClient) -> None:
        self._client = client
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return self._locked(attribute)

    def _locked(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def close_embedded() -> None:
    """Close every embedded client of this process, releasing their folders."""
    with _embedded_lock:
        for client in _embedded.values():
            client.close()
        _embedded.clear()
