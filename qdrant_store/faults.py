"""Translation of qdrant-client's failures into this project's errors, done once.

Timeouts, connection resets, 5xx and 429 become :class:`TransientStoreError`
(retry them); any other 4xx becomes a terminal :class:`StoreError` carrying the
server's own message.
"""

from __future__ import annotations

import httpx
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from qdrant_rebuild.errors import StoreError, TransientStoreError

_MAX_MESSAGE = 300


def translate(exc: BaseException) -> StoreError:
    """The project error for a failure raised by a qdrant-client call."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ResponseHandlingException):
        return translate(exc.source)
    if isinstance(exc, UnexpectedResponse):
        return _from_response(exc)
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return TransientStoreError(f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return TransientStoreError(f"connection failed ({type(exc).__name__}: {exc})")
    grpc_error = _from_grpc(exc)
    if grpc_error is not None:
        return grpc_error
    return StoreError(f"{type(exc).__name__}: {exc}")


def is_timeout(error: StoreError) -> bool:
    return isinstance(error, TransientStoreError) and str(error).startswith("timed out")


def _from_response(exc: UnexpectedResponse) -> StoreError:
    status = exc.status_code or 0
    message = _server_message(exc)
    if status == 429:
        return TransientStoreError(
            f"429 too many requests: {message}", retry_after=_retry_after(exc)
        )
    if status >= 500 or status == 408:
        return TransientStoreError(f"{status} {exc.reason_phrase}: {message}")
    return StoreError(f"{status} {exc.reason_phrase}: {message}")


def _server_message(exc: UnexpectedResponse) -> str:
    try:
        body = exc.structured()
        status = body.get("status") if isinstance(body, dict) else None
        if isinstance(status, dict) and "error" in status:
            return str(status["error"])[:_MAX_MESSAGE]
    except ValueError:
        pass
    return exc.content[:_MAX_MESSAGE].decode("utf-8", "replace")


def _retry_after(exc: UnexpectedResponse) -> float | None:
    value = exc.headers.get("retry-after") if exc.headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _from_grpc(exc: BaseException) -> StoreError | None:
    try:
        import grpc
    except ImportError:
        return None
    if not isinstance(exc, grpc.RpcError):
        return None
    code = exc.code() if hasattr(exc, "code") else None
    transient = {
        grpc.StatusCode.DEADLINE_EXCEEDED: "timed out (gRPC deadline exceeded)",
        grpc.StatusCode.UNAVAILABLE: "connection failed (gRPC unavailable)",
        grpc.StatusCode.RESOURCE_EXHAUSTED: "429 too many requests (gRPC)",
        grpc.StatusCode.INTERNAL: "500 internal error (gRPC)",
    }
    if code in transient:
        return TransientStoreError(transient[code])
    return StoreError(f"gRPC {code}: {exc}")
