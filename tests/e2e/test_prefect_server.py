"""The whole path a person takes: deploy, worker, ``prefect deployment run``, Qdrant.

A small corpus (three documents and one transcript) goes into an embedded Qdrant
in a temporary folder, through the real ``rebuild/full`` deployment run by a
process worker against a real Prefect server.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "examples" / "corpus"
DOCUMENTS = ["http2.md", "exceptions.md", "environment_variables.md"]
TRANSCRIPT = "q77vjeL7FvL"
# Model load, three documents and a transcript take about a minute on two cores;
# the rest is headroom for a loaded CI machine.
RUN_TIMEOUT = 180


def add_documents(folder: Path, *names: str) -> None:
    knowledge = folder / "sources" / "knowledge"
    knowledge.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / "knowledge" / "httpx" / "docs" / name, knowledge / name)


def write_small_config(folder: Path, alias: str, documents: list[str]) -> Path:
    """A config reading a copy of a few corpus files into an embedded Qdrant here."""
    add_documents(folder, *documents)
    youtube = folder / "sources" / "youtube"
    youtube.mkdir(parents=True)
    for name in (f"{TRANSCRIPT}.en.vtt", f"{TRANSCRIPT}.info.json"):
        shutil.copy(CORPUS / "transcripts" / name, youtube / name)
    config = folder / "e2e.toml"
    config.write_text(
        f"""
[qdrant]
path = "qdrant"

[collection]
alias = "{alias}"

[embedding]
device = "cpu"

[run]
output_dir = "runs"

[[sources]]
name = "knowledge"
kind = "documents"
path = "sources/knowledge"

[[sources]]
name = "youtube"
kind = "transcripts"
path = "sources/youtube"
""",
        encoding="utf-8",
    )
    return config


def open_embedded_qdrant(path: Path, timeout: float = 30.0) -> Any:
    """A client of the embedded Qdrant, once the flow run's process has let go of it.

    The embedded Qdrant admits one client per folder, and the flow run's state
    turns Completed a moment before its process exits and releases the folder.
    """
    from qdrant_client import QdrantClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def read_alias(path: Path, alias: str) -> tuple[str, set[tuple[str, str]], int]:
    """The alias's collection, its (source, document id) pairs and its point count."""
    with closing(open_embedded_qdrant(path)) as client:
        aliases = {
            a.alias_name: a.collection_name for a in client.get_aliases().aliases
        }
        collection = aliases[alias]
        points, _ = client.scroll(
            collection, limit=10_000, with_payload=["source", "document_id"]
        )
        count = client.count(collection, exact=True).count
    assert count == len(points), "more points than one scroll page"
    documents = {(p.payload["source"], p.payload["document_id"]) for p in points}
    return collection, documents, count


def test_rebuild_deployment_fills_a_collection_and_points_the_alias_at_it(
    prefect_server, deployed, worker, tmp_path
):
    alias = f"e2e_{uuid.uuid4().hex[:8]}"
    config = write_small_config(tmp_path, alias, DOCUMENTS)

    flow_run = prefect_server.run_and_wait(
        "rebuild/full", {"config": str(config)}, timeout=RUN_TIMEOUT
    )

    assert flow_run.state.type.value == "COMPLETED", prefect_server.describe_flow_run(
        flow_run.id
    )
    collection, documents, count = read_alias(tmp_path / "qdrant", alias)
    artifacts = prefect_server.artifacts_of(flow_run.id)
    assert collection.startswith(f"{alias}__")
    assert documents == {
        ("knowledge", "environment_variables.md"),
        ("knowledge", "exceptions.md"),
        ("knowledge", "http2.md"),
        ("youtube", f"{TRANSCRIPT}.en"),
    }
    summary = json.loads(
        (tmp_path / "runs" / collection / "rebuild-summary.json").read_text()
    )
    assert (summary["status"], summary["alias_switched"]) == ("completed", True)
    assert summary["points_written"] == count
    assert [(a.key, a.type) for a in artifacts] == [("rebuild-summary", "markdown")]
    assert f"# rebuild of `{alias}`" in artifacts[0].data


def test_nightly_deployment_adds_new_documents_to_the_aliass_collection(
    prefect_server, deployed, worker, tmp_path
):
    alias = f"e2e_{uuid.uuid4().hex[:8]}"
    config = write_small_config(tmp_path, alias, DOCUMENTS[:2])
    first = prefect_server.run_and_wait(
        "rebuild/full", {"config": str(config)}, timeout=RUN_TIMEOUT
    )
    assert first.state.type.value == "COMPLETED", prefect_server.describe_flow_run(
        first.id
    )
    built, _, _ = read_alias(tmp_path / "qdrant", alias)
    add_documents(tmp_path, DOCUMENTS[2])

    nightly = prefect_server.run_and_wait(
        "rebuild/nightly", {"config": str(config)}, timeout=RUN_TIMEOUT
    )

    assert nightly.state.type.value == "COMPLETED", prefect_server.describe_flow_run(
        nightly.id
    )
    collection, documents, _ = read_alias(tmp_path / "qdrant", alias)
    summary = json.loads(
        (tmp_path / "runs" / collection / "backfill-summary.json").read_text()
    )
    assert collection == built
    assert ("knowledge", DOCUMENTS[2]) in documents
    assert (summary["documents_added"], summary["documents_skipped"]) == (1, 3)
