"""Test doubles for faults a real embedded Qdrant cannot be made to show.

``FlakyQdrant`` is a fake: it wraps a real client and makes some of its write
calls fail the way qdrant-client fails against a troubled server, raising the
very exception types qdrant-client raises (httpx errors wrapped in
``ResponseHandlingException``; ``UnexpectedResponse`` for HTTP statuses).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import httpx
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

FAULTS = ("timeout", "reset", "503", "429", "400")


def fault(kind: str, retry_after: float | None = None) -> Exception:
    """The exception qdrant-client raises for one kind of server trouble."""
    if kind == "timeout":
        return ResponseHandlingException(httpx.ReadTimeout("timed out"))
    if kind == "reset":
        return ResponseHandlingException(
            httpx.RemoteProtocolError("Server disconnected without sending a response.")
        )
    status = int(kind)
    headers = httpx.Headers(
        {"retry-after": str(retry_after)} if retry_after is not None else {}
    )
    body = {
        503: b'{"status":{"error":"Service Unavailable: shard is recovering"}}',
        429: b'{"status":{"error":"Too many requests"}}',
        400: b'{"status":{"error":"Wrong input: Vector dimension error: '
        b'expected dim: 384, got 3"}}',
    }[status]
    reason = {503: "Service Unavailable", 429: "Too Many Requests", 400: "Bad Request"}
    return UnexpectedResponse(status, reason[status], body, headers)


class FlakyQdrant:
    """A real client whose writes fail at ``rate`` with the given fault kinds.

    Half of the timeouts and resets happen after the write was applied, as they
    do when a server finishes a request whose answer is lost on the way back.
    """

    writes = ("upsert", "delete")

    def __init__(
        self,
        client: Any,
        rate: float,
        kinds: Iterable[str] = ("timeout", "reset", "503", "429"),
        seed: int = 7,
        retry_after: float = 0.0,
    ) -> None:
        self.client = client
        self.rate = rate
        self.kinds = tuple(kinds)
        self.random = random.Random(seed)
        self.retry_after = retry_after
        self.injected: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name not in self.writes:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.random.random() >= self.rate:
                return attribute(*args, **kwargs)
            kind = self.random.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            if kind in ("timeout", "reset") and self.random.random() < 0.5:
                attribute(*args, **kwargs)
            raise fault(kind, self.retry_after if kind == "429" else None)

        return call
