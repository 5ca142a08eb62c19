"""What stops a rebuild before it writes, and what keeps it from taking the alias:
the guards a user relies on when a source, a name or a folder is wrong."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import models

from pipeline import runtime as runtime_module
from qdrant_rebuild.errors import ConfigError, SwitchRefused
from qdrant_store import close_embedded
from qdrant_store.collections import aliases, manifest
from tests.test_pipeline import (
    KNOWLEDGE,
    cut_short,
    make_corpus,
    open_store,
    points_of,
    write_config,
)

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    runtime_module.forget()
    yield
    runtime_module.forget()
    close_embedded()


def test_a_rebuild_of_some_sources_keeps_its_collection_but_not_the_alias(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    config = str(write_config(make_corpus(tmp_path)))

    with pytest.raises(SwitchRefused, match=r"only some sources \(not youtube\)"):
        rebuild(config=config, sources=["knowledge"])

    client = open_store(tmp_path)
    [collection] = [c.name for c in client.get_collections().collections]
    assert aliases(client) == {}
    assert manifest(client, collection)["status"] == "complete"


def test_force_switch_lets_a_rebuild_of_some_sources_take_the_alias(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    config = str(write_config(make_corpus(tmp_path)))

    summary = rebuild(config=config, sources=["knowledge"], force_switch=True)

    assert aliases(open_store(tmp_path)) == {"kb": summary["collection"]}


def test_a_rebuild_that_found_nothing_never_takes_the_alias(tmp_path: Path) -> None:
    from flows.rebuild import rebuild

    (tmp_path / "knowledge").mkdir()
    (tmp_path / "transcripts").mkdir()
    config = str(write_config(tmp_path))

    with pytest.raises(SwitchRefused, match="no points were written"):
        rebuild(config=config, force_switch=True)

    assert aliases(open_store(tmp_path)) == {}


def test_an_alias_that_names_a_collection_stops_the_run_before_it_writes(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    client = open_store(root)
    client.create_collection(
        "kb", vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT)
    )
    client.close()

    with pytest.raises(ConfigError, match="'kb' is the name of a collection"):
        rebuild(config=str(write_config(root)))

    assert [c.name for c in open_store(root).get_collections().collections] == ["kb"]


def test_an_output_folder_that_cannot_be_written_stops_the_run_before_it_writes(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    (root / "runs").write_text("a file where the run folder should be")

    with pytest.raises(ConfigError, match=r"run\.output_dir .*runs"):
        rebuild(config=str(write_config(root)))

    assert open_store(root).get_collections().collections == []


def test_a_file_name_that_is_not_utf8_is_rejected_and_the_rest_is_written(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    folder = os.fsencode(root / "knowledge")
    with open(os.path.join(folder, b"notes-\xff.md"), "wb") as handle:
        handle.write(b"# Notes\n\nA page whose name is Latin-1, not UTF-8.\n")
    config = str(write_config(root, extra="max_reject_ratio = 0.5"))

    summary = rebuild(config=config)

    assert summary["status"] == "completed"
    assert summary["documents_rejected"] == 1
    [reject] = summary["rejected"]
    assert "not valid UTF-8" in reject["reason"]
    stored = {
        b["document_id"]
        for b in points_of(open_store(root), summary["collection"]).values()
    }
    assert set(KNOWLEDGE) <= stored
    assert not any("notes-" in doc for doc in stored)


def test_a_resumed_rebuild_drops_documents_that_vanished_while_it_was_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.rebuild import rebuild

    monkeypatch.setenv("QDRANT_REBUILD_UPSERT__BATCH_POINTS", "8")
    root = make_corpus(tmp_path)
    config = str(write_config(root))
    cut_short(config, monkeypatch, successes=4)
    client = open_store(root)
    [collection] = [c.name for c in client.get_collections().collections]
    written = {b["document_id"] for b in points_of(client, collection).values()}
    client.close()
    [vanished] = [doc for doc in KNOWLEDGE if doc in written][:1]
    (root / "knowledge" / vanished).unlink()

    resumed = rebuild(config=config)

    assert resumed["resumed"] is True
    assert resumed["status"] == "completed"
    assert resumed["documents_deleted"] == 1
    stored = {
        b["document_id"] for b in points_of(open_store(root), collection).values()
    }
    assert vanished not in stored
    assert set(KNOWLEDGE) - {vanished} <= stored


def test_a_rebuild_of_one_source_continued_after_a_stop_counts_only_that_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.rebuild import rebuild

    monkeypatch.setenv("QDRANT_REBUILD_UPSERT__BATCH_POINTS", "8")
    config = str(write_config(make_corpus(tmp_path)))
    cut_short(config, monkeypatch, successes=2, sources=["knowledge"])

    with pytest.raises(SwitchRefused, match="only some sources"):
        rebuild(config=config, sources=["youtube"])

    client = open_store(tmp_path)
    [collection] = [c.name for c in client.get_collections().collections]
    stored = points_of(client, collection).values()
    assert {b["source"] for b in stored} == {"knowledge", "youtube"}
