"""Helpers of the parity tests: small collections of real text, and FakeQdrant17.

The collections hold real vectors of the real model, built in the embedded Qdrant.
FakeQdrant17 stands in for what the embedded Qdrant cannot be: an old Qdrant 1.7
server over HTTP, which has no query_points and no collection_exists.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from config import EmbeddingSettings, ParitySettings, Settings
from embedders import Embedder

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus" / "knowledge"
DOCUMENT_IDS = (
    "httpx/docs/exceptions.md",
    "httpx/docs/http2.md",
    "httpx/docs/environment_variables.md",
    "httpx/docs/troubleshooting.md",
    "httpx/docs/logging.md",
    "httpx/docs/third_party_packages.md",
    "fastembed/docs/index.md",
    "qdrant/docs/CONTRIBUTING.md",
)
DOCUMENT_CHARS = 1500
# The settings of the shared ``embedder`` fixture (tests/conftest.py).
MODEL_SETTINGS = EmbeddingSettings(device="cpu")

Payload = Callable[[str, int, str], dict[str, Any]]


def documents() -> dict[str, str]:
    """Document id to the opening of the real corpus file, cut at a paragraph."""
    out = {}
    for document_id in DOCUMENT_IDS:
        text = (CORPUS / document_id).read_text(encoding="utf-8")
        cut = text.rfind("\n\n", 0, DOCUMENT_CHARS)
        out[document_id] = text[: cut if cut > 0 else DOCUMENT_CHARS].strip()
    return out


def chunk(text: str, max_chars: int) -> list[str]:
    """Paragraphs packed into pieces of at most ``max_chars``; a longer paragraph
    is cut between words first."""
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        parts: list[str] = []
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > max_chars:
                parts.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        parts += [line] if line else []
        for part in parts:
            if current and len(current) + 2 + len(part) > max_chars:
                pieces.append(current)
                current = ""
            current = f"{current}\n\n{part}" if current else part
    return [*pieces, current] if current else pieces


_vectors: dict[str, np.ndarray] = {}


def embed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of ``texts``, each text encoded once per test session."""
    if not texts:
        return np.zeros((0, embedder.info.dimension), dtype=np.float32)
    todo = [t for t in dict.fromkeys(texts) if t not in _vectors]
    if todo:
        vectors, bad = embedder.encode(todo)
        assert bad == []
        _vectors.update(zip(todo, vectors, strict=True))
    return np.stack([_vectors[t] for t in texts])


def our_payload(document_id: str, index: int, text: str) -> dict[str, Any]:
    return {
        "text": text,
        "source": "knowledge",
        "document_id": document_id,
        "chunk_index": index,
    }


def langchain_payload(document_id: str, index: int, text: str) -> dict[str, Any]:
    path = f"/home/school/knowledge/{document_id}"
    return {"page_content": text, "metadata": {"source": path}}


def llamaindex_payload(document_id: str, index: int, text: str) -> dict[str, Any]:
    node = {"id_": str(uuid.uuid4()), "text": text, "metadata": {"file": document_id}}
    return {
        "_node_content": json.dumps(node),
        "_node_type": "TextNode",
        "doc_id": document_id,
        "ref_doc_id": document_id,
    }


def build_collection(
    client: QdrantClient,
    name: str,
    embedder: Embedder,
    *,
    max_chars: int = 500,
    payload: Payload = our_payload,
    leave_out: tuple[str, ...] = (),
    versions: dict[str, str] | None = None,
    seed: int = 1,
) -> list[tuple[str | int, list[float], dict[str, Any]]]:
    """A collection of the test documents, with random UUIDs as old tools make;
    ``versions`` gives some documents another text."""
    rng = np.random.default_rng(seed)
    texts, payloads = [], []
    for document_id, text in {**documents(), **(versions or {})}.items():
        if document_id in leave_out:
            continue
        for index, piece in enumerate(chunk(text, max_chars)):
            texts.append(piece)
            payloads.append(payload(document_id, index, piece))
    vectors = embed(embedder, texts)
    ids: list[str | int] = [
        str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in texts
    ]
    client.create_collection(
        name,
        vectors_config=models.VectorParams(
            size=vectors.shape[1], distance=models.Distance.COSINE
        ),
    )
    if texts:
        client.upsert(
            name,
            points=models.Batch(ids=ids, vectors=vectors.tolist(), payloads=payloads),
            wait=True,
        )
    return list(zip(ids, vectors.tolist(), payloads, strict=True))


def name(prefix: str) -> str:
    """A collection name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def settings(old: str, **parity: Any) -> Settings:
    """Settings comparing with ``old``, small enough for the test documents."""
    values: dict[str, Any] = {
        "old_collection": old,
        "old_model": "all-MiniLM-L6-v2",
        "sample_queries": 12,
        "top_k": 3,
        **parity,
    }
    return Settings(embedding=MODEL_SETTINGS, parity=ParitySettings(**values))


class FakeQdrant17:
    """A fake Qdrant 1.7.4 server on 127.0.0.1 with one collection, read-only.

    It answers what 1.7 answers: GET /, collections, aliases, scroll, count,
    retrieve and points/search; 404 for points/query (Qdrant 1.10) and for
    collections/{name}/exists (1.8). ``requests`` records every call made.
    """

    version = "1.7.4"

    def __init__(
        self,
        collection: str,
        points: list[tuple[str | int, list[float], dict[str, Any]]],
        api_key: str | None = None,
        lacking: tuple[str, ...] = (),
    ) -> None:
        self.collection = collection
        self.points = sorted(points, key=lambda p: str(p[0]))
        self.api_key = api_key
        self.lacking = lacking
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeQdrant17:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append(f"{method} {path}")
        base = f"/collections/{self.collection}"
        if method == "GET" and path == "/":
            return 200, {"title": "qdrant - vector search engine", "version": "1.7.4"}
        if method == "GET" and path == "/collections":
            return 200, _ok({"collections": [{"name": self.collection}]})
        if method == "GET" and path == "/aliases":
            return 200, _ok({"aliases": []})
        if not path.startswith(base) or path.removeprefix(base) in self.lacking:
            return 404, {"status": {"error": "Not found"}}
        rest = path.removeprefix(base)
        if method == "GET" and rest == "":
            size = len(self.points[0][1]) if self.points else 4
            params = {"vectors": {"size": size, "distance": "Cosine"}}
            return 200, _ok({"status": "green", "config": {"params": params}})
        if method == "POST" and rest == "/points/count":
            return 200, _ok({"count": len(self.points)})
        if method == "POST" and rest == "/points/scroll":
            return 200, _ok(self._scroll(body))
        if method == "POST" and rest == "/points":
            wanted = {str(i) for i in body["ids"]}
            found = [p for p in self.points if str(p[0]) in wanted]
            return 200, _ok([_point(p, body, None) for p in found])
        if method == "POST" and rest == "/points/search":
            return 200, _ok(self._search(body))
        return 404, {"status": {"error": f"Not found: {path}"}}

    def _scroll(self, body: dict[str, Any]) -> dict[str, Any]:
        start = 0
        if body.get("offset") is not None:
            start = [str(p[0]) for p in self.points].index(str(body["offset"]))
        page = self.points[start : start + int(body.get("limit", 10))]
        after = start + len(page)
        return {
            "points": [_point(p, body, None) for p in page],
            "next_page_offset": self.points[after][0]
            if after < len(self.points)
            else None,
        }

    def _search(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        query = np.asarray(body["vector"], dtype=np.float32)
        matrix = np.asarray([p[1] for p in self.points], dtype=np.float32)
        scores = matrix @ query / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
        order = np.argsort(-scores)[: int(body["limit"])]
        return [_point(self.points[i], body, float(scores[i])) for i in order]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if fake.api_key and self.headers.get("api-key") != fake.api_key:
                    status, answer = 401, {"status": {"error": "Unauthorized"}}
                else:
                    status, answer = fake.answer(method, self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _ok(result: Any) -> dict[str, Any]:
    return {"result": result, "status": "ok", "time": 0.0001}


def _point(point: Any, body: dict[str, Any], score: float | None) -> dict[str, Any]:
    point_id, vector, payload = point
    selector = body.get("with_payload", True)
    if isinstance(selector, list):
        payload = {k: v for k, v in payload.items() if k in selector}
    elif not selector:
        payload = None
    out: dict[str, Any] = {"id": point_id, "version": 3, "payload": payload}
    out["vector"] = vector if body.get("with_vector") else None
    if score is not None:
        out["score"] = score
    return out


def test_fake_qdrant17_has_no_query_points() -> None:
    fake = FakeQdrant17("old", [(1, [1.0, 0.0], {"text": "a"})])

    with fake:
        status, _ = fake.answer("POST", "/collections/old/points/query", {})
        version = fake.answer("GET", "/", {})[1]["version"]

    assert (status, version) == (404, "1.7.4")


def test_chunk_packs_paragraphs_under_the_limit() -> None:
    text = "one two three\n\nfour five\n\n" + "word " * 50

    pieces = chunk(text, 60)

    assert pieces[0] == "one two three\n\nfour five"
    assert all(len(p) <= 60 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
