"""The ``parity`` Prefect flow against a temporary Prefect API and embedded Qdrant."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.artifacts import Artifact

from config import load_settings
from parity.publish import artifact_key
from qdrant_rebuild.errors import ParityFailed
from qdrant_store import connect
from qdrant_store.collections import switch_alias
from tests.parity_support import build_collection, langchain_payload

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("prefect_api")]


def write_config(folder: Path, old: str, alias: str) -> Path:
    path = folder / "parity.toml"
    path.write_text(
        f"""
[qdrant]
path = "qdrant"

[collection]
alias = "{alias}"

[embedding]
device = "cpu"

[run]
output_dir = "runs"

[parity]
old_collection = "{old}"
old_model = "all-MiniLM-L6-v2"
text_field = "page_content"
document_key_field = "metadata.source"
document_key_normaliser = "path_tail"
sample_queries = 8
top_k = 3
""",
        encoding="utf-8",
    )
    return path


def test_parity_flow_passes_reports_and_publishes_artifacts(tmp_path, embedder) -> None:
    from flows.parity import parity_flow

    config = write_config(tmp_path, "school", "kb")
    client = connect(load_settings(config))
    build_collection(client, "school", embedder, payload=langchain_payload)
    build_collection(client, "kb__1", embedder, max_chars=300)
    switch_alias(client, "kb", "kb__1")

    result = parity_flow(config=str(config))

    assert result["passed"] is True
    assert result["new_collection"] == "kb__1"
    assert result["checks"]["coverage"] == "pass"
    assert (tmp_path / "runs" / "parity" / "kb__1.md").is_file()
    artifact = Artifact.get(f"parity-{artifact_key('kb__1')}")
    assert artifact is not None
    assert "parity pass" in str(artifact.description)


def test_parity_flow_fails_the_run_naming_the_failed_checks(tmp_path, embedder) -> None:
    from flows.parity import parity_flow

    config = write_config(tmp_path, "school", "kb")
    client = connect(load_settings(config))
    build_collection(client, "school", embedder, payload=langchain_payload)
    build_collection(client, "kb__2", embedder, leave_out=("httpx/docs/logging.md",))

    with pytest.raises(ParityFailed) as caught:
        parity_flow(config=str(config), new="kb__2")

    message = str(caught.value)
    assert "\n" not in message
    assert "coverage: 1 old documents missing" in message
    assert "httpx/docs/logging.md" in message
