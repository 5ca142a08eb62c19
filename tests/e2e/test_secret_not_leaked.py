"""The Qdrant API key never shows in output, logs, artifacts, reports or errors.

``qdrant-rebuild rebuild`` runs against a fake Qdrant on loopback that takes the
key and refuses it (401) or fails (500), at the connection check or at the
first write. Its flow run reports to the session's Prefect server, so the key
is also looked for in that server's database, where logs, artifacts, states
and events are kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("qdrant-rebuild"))
# Long and random, so a hit can only be a leak; the middle part also catches a
# key cut short or wrapped in quotes.
API_KEY = f"qk-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
NEEDLES = (API_KEY, API_KEY[3:19])
LISTS = {
    "/collections": {"collections": []},
    "/aliases": {"aliases": []},
}


class FakeQdrant(ThreadingHTTPServer):
    """A fake Qdrant that answers every request with ``status``.

    With ``lists_collections``, listing collections and aliases answers 200 and
    empty, so a run gets past its connection check to its first write.
    """

    def __init__(self, status: int, lists_collections: bool) -> None:
        self.status = status
        self.lists_collections = lists_collections
        self.requests: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _FakeQdrantHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeQdrantHandler(BaseHTTPRequestHandler):
    server: FakeQdrant

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path.split("?")[0]
        if self.server.lists_collections and self.command == "GET" and path in LISTS:
            status = 200
            body = {"result": LISTS[path], "status": "ok", "time": 0.0}
        else:
            status = self.server.status
            body = {"status": {"error": f"fake Qdrant answers {status}"}}
        self.server.requests.append(
            {
                "method": self.command,
                "path": path,
                "api_key": self.headers.get("api-key", ""),
                "status": str(status),
            }
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        # The default writes every request to stderr; the requests are recorded.
        pass


@pytest.fixture(
    params=[
        pytest.param((401, False), id="401-at-connection-check"),
        pytest.param((401, True), id="401-at-first-write"),
        pytest.param((500, True), id="500-at-first-write"),
    ]
)
def fake_qdrant(request: pytest.FixtureRequest) -> Iterator[FakeQdrant]:
    status, lists_collections = request.param
    server = FakeQdrant(status, lists_collections)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def write_config(folder: Path, url: str) -> Path:
    knowledge = folder / "sources" / "knowledge"
    knowledge.mkdir(parents=True)
    (knowledge / "note.md").write_text(
        "# A note\n\nOne short document: the run fails before it is read.\n",
        encoding="utf-8",
    )
    config = folder / "leak.toml"
    config.write_text(
        f"""
[qdrant]
url = "{url}"
timeout_seconds = 5

[collection]
alias = "leak_{uuid.uuid4().hex[:8]}"

[embedding]
device = "cpu"

[run]
output_dir = "runs"

[[sources]]
name = "knowledge"
kind = "documents"
path = "sources/knowledge"
""",
        encoding="utf-8",
    )
    return config


def files_holding(folder: Path, *needles: str) -> list[str]:
    """Files under ``folder`` whose bytes hold any of ``needles``."""
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(needle.encode() in data for needle in needles):
                hits.append(path.name)
    return hits


def test_api_key_appears_nowhere_when_qdrant_refuses_it(
    prefect_server, fake_qdrant, tmp_path
):
    config = write_config(tmp_path, fake_qdrant.url)

    result = subprocess.run(
        [CLI, "rebuild", "--config", str(config)],
        cwd=tmp_path,
        env={**prefect_server.env, "QDRANT_API_KEY": API_KEY},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    output = result.stdout + result.stderr
    refusal = f"fake Qdrant answers {fake_qdrant.status}"
    # The run really sent the key, met the refusal, and its error reached both
    # the terminal and the server's database: the places searched below.
    assert result.returncode == 1, output
    assert {r["api_key"] for r in fake_qdrant.requests} == {API_KEY}
    assert refusal in result.stderr
    # SQLite keeps recent writes in prefect.db-wal until a checkpoint.
    assert {
        name.removesuffix("-wal")
        for name in files_holding(prefect_server.home, refusal)
    } == {"prefect.db"}
    assert [needle for needle in NEEDLES if needle in output] == []
    assert files_holding(tmp_path, *NEEDLES) == []
    assert files_holding(prefect_server.home, *NEEDLES) == []
