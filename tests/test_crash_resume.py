"""A real rebuild process killed with SIGKILL at several moments, and resumed.

Each kill lands at a different point of the load (right after the collection is
created, between upserts, in the middle of the upsert stream); the same command is
then run again. The final collection must equal the one a run that was never
interrupted produces, and the resumed runs must not embed completed documents again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from pipeline.work import read_states
from sources.base import DocumentRef
from tests.conftest import CORPUS, REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.usefixtures("prefect_api"),
]

CONFIG = """
[qdrant]
path = "store"

[collection]
alias = "crash"

[embedding]
device = "cpu"

[run]
output_dir = "runs"
task_bytes = 16000
encode_group = 64

[upsert]
batch_points = 16

[[sources]]
name = "knowledge"
kind = "documents"
path = "knowledge"
"""


def _corpus(root: Path) -> Path:
    shutil.copytree(CORPUS / "knowledge" / "httpx", root / "knowledge" / "httpx")
    (root / "run.toml").write_text(CONFIG)
    return root / "run.toml"


def _environment(prefect_home: Path | None = None) -> dict[str, str]:
    """The CLI's environment: the tests' Prefect API, or with ``prefect_home`` none,
    so the CLI starts Prefect's temporary API itself, as it does for a user."""
    from prefect.settings import get_current_settings

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    if prefect_home is None:
        env["PREFECT_API_URL"] = str(get_current_settings().api.url)
    else:
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_HOME"] = str(prefect_home)
    return env


def _run(
    config: Path,
    kill_after: tuple[str, int] | None = None,
    signum: signal.Signals = signal.SIGKILL,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run the CLI; with ``kill_after=(pattern, n)``, send ``signum`` to its process
    group at the n-th match, as a terminal's Ctrl-C or a node's end would."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qdrant_rebuild.cli",
            "-v",
            "rebuild",
            "--config",
            str(config),
        ],
        cwd=config.parent,
        env=env or _environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = 0

    def read() -> None:
        nonlocal seen
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if kill_after and re.search(kill_after[0], line):
                seen += 1
                if seen == kill_after[1]:
                    os.killpg(process.pid, signum)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # A run of this corpus takes well under a minute; a stopped one must end too.
        code = process.wait(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        reader.join()
    return code, "".join(lines)


def _points(root: Path) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    client = QdrantClient(path=str(root / "store"))
    try:
        [alias] = client.get_aliases().aliases
        points, _ = client.scroll(
            alias.collection_name, limit=100_000, with_payload=True, with_vectors=True
        )
        return {
            str(p.id): (p.payload or {}, np.asarray(p.vector, dtype=np.float32))
            for p in points
        }
    finally:
        client.close()


def _completed_documents(root: Path) -> int:
    """Documents whose every chunk was in the store when the process died."""
    client = QdrantClient(path=str(root / "store"))
    try:
        [collection] = [c.name for c in client.get_collections().collections]
        refs = [
            DocumentRef(
                "knowledge", path.relative_to(root / "knowledge").as_posix(), (), 0
            )
            for path in (root / "knowledge").rglob("*.md")
        ]
        states = read_states(client, collection, refs)
        return sum(
            1
            for state in states.values()
            if state.chunk_count is not None
            and state.indexes == set(range(state.chunk_count))
        )
    finally:
        client.close()


def test_a_killed_rebuild_resumes_into_the_same_collection_and_matches_a_clean_run(
    tmp_path: Path,
) -> None:
    clean_config = _corpus(tmp_path / "clean")
    code, output = _run(clean_config)
    assert code == 0, output
    clean = _points(tmp_path / "clean")
    config = _corpus(tmp_path / "killed")
    moments = [
        ("created collection", 1),  # before any point is written
        ("upserted \\d+ points", 3),  # between upserts, early
        ("upserted \\d+ points", 9),  # deep in the upsert stream
    ]
    skipped_share: list[float] = []

    for pattern, nth in moments:
        code, output = _run(config, kill_after=(pattern, nth))
        assert code == -signal.SIGKILL, output
        [created] = re.findall(r"created collection (crash__\S+)", output)
        completed = _completed_documents(tmp_path / "killed")

        code, output = _run(config)

        assert code == 0, output
        assert re.search(rf"collection\s+{created} \(resumed\)", output), output
        final = _points(tmp_path / "killed")
        assert final.keys() == clean.keys()
        for point_id, (body, vector) in final.items():
            clean_body, clean_vector = clean[point_id]
            assert body == clean_body
            np.testing.assert_allclose(vector, clean_vector, atol=1e-5)
        skipped = int(re.search(r"skipped (\d+)", output).group(1))  # type: ignore[union-attr]
        if completed:
            skipped_share.append(skipped / completed)
        # The next moment starts from nothing again.
        shutil.rmtree(tmp_path / "killed" / "store")

    print(f"share of completed documents skipped on resume: {skipped_share}")
    assert len(skipped_share) == 2
    assert all(share >= 0.95 for share in skipped_share), skipped_share


def test_ctrl_c_stops_the_rebuild_leaves_the_alias_and_the_next_run_continues(
    tmp_path: Path,
) -> None:
    config = _corpus(tmp_path)
    env = _environment(prefect_home=tmp_path / "prefect-home")

    code, output = _run(config, ("upserted \\d+ points", 2), signal.SIGINT, env)

    assert code == 130, output
    assert "stopped; run the same command again to continue" in output
    client = QdrantClient(path=str(tmp_path / "store"))
    try:
        [collection] = [c.name for c in client.get_collections().collections]
        assert client.get_aliases().aliases == []
        assert (client.get_collection(collection).config.metadata or {})[
            "status"
        ] == "building"
    finally:
        client.close()

    code, output = _run(config)  # the tests' Prefect API: the resume is what counts

    assert code == 0, output
    assert re.search(rf"collection\s+{collection} \(resumed\)", output), output
    assert [(a.alias_name, a.collection_name) for a in _aliases(tmp_path)] == [
        ("crash", collection)
    ]


def _aliases(root: Path) -> list[Any]:
    client = QdrantClient(path=str(root / "store"))
    try:
        return list(client.get_aliases().aliases)
    finally:
        client.close()
