"""The rebuild and backfill flows end to end: real model, real embedded Qdrant, real
Prefect flows against a temporary API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from pipeline import runtime as runtime_module
from qdrant_rebuild.errors import ConfigError, ModelMismatchError, RejectRateExceeded
from qdrant_store import close_embedded
from qdrant_store.collections import aliases, manifest
from tests.conftest import CORPUS, SAMPLES
from tests.doubles import FlakyQdrant

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("prefect_api")]

KNOWLEDGE = [
    "httpx/docs/quickstart.md",
    "httpx/docs/advanced/timeouts.md",
    "prefect/docs/v3/how-to-guides/deployments/create-schedules.mdx",
]


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Iterator[None]:
    runtime_module.forget()
    yield
    runtime_module.forget()
    close_embedded()


def make_corpus(root: Path, knowledge: list[str] = KNOWLEDGE) -> Path:
    for relative in knowledge:
        target = root / "knowledge" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / "knowledge" / relative, target)
    transcripts = root / "transcripts"
    transcripts.mkdir(parents=True)
    for name in ("JHmpNUiOYQB.en.vtt", "JHmpNUiOYQB.info.json"):
        shutil.copy(CORPUS / "transcripts" / name, transcripts / name)
    return root


def write_config(root: Path, alias: str = "kb", extra: str = "") -> Path:
    path = root / "run.toml"
    path.write_text(
        f"""
[qdrant]
path = "store"

[collection]
alias = "{alias}"

[embedding]
device = "cpu"

[run]
output_dir = "runs"
task_bytes = 20000
{extra}

[[sources]]
name = "knowledge"
kind = "documents"
path = "knowledge"

[[sources]]
name = "youtube"
kind = "transcripts"
path = "transcripts"
"""
    )
    return path


def open_store(root: Path) -> QdrantClient:
    """A client of the test's embedded store, once the flow's own is closed."""
    close_embedded()
    runtime_module.forget()
    return QdrantClient(path=str(root / "store"))


def points_of(client: QdrantClient, collection: str) -> dict[str, dict[str, Any]]:
    points, _ = client.scroll(collection, limit=10_000, with_payload=True)
    return {str(p.id): p.payload or {} for p in points}


def test_rebuild_writes_one_point_per_chunk_and_moves_the_alias(
    tmp_path: Path, embedder: Any
) -> None:
    from flows.rebuild import rebuild

    config = write_config(make_corpus(tmp_path))

    summary = rebuild(config=str(config))

    client = open_store(tmp_path)
    collection = summary["collection"]
    assert summary["status"] == "completed"
    assert summary["documents_read"] == 4
    assert summary["documents_rejected"] == 0
    assert summary["points_written"] == summary["chunks"] > 10
    assert client.count(collection, exact=True).count == summary["chunks"]
    assert aliases(client) == {"kb": collection}
    assert manifest(client, collection)["status"] == "complete"
    assert manifest(client, collection)["model"]["dimension"] == 384
    payloads = points_of(client, collection).values()
    for body in payloads:
        ids = embedder.tokenizer(body["text"])["input_ids"]
        assert len(ids) <= embedder.info.max_seq_length
    transcript = [b for b in payloads if b["source"] == "youtube"]
    assert transcript and all(
        "?t=" in b["url"] or "&t=" in b["url"] for b in transcript
    )
    assert {b["document_id"] for b in payloads if b["source"] == "knowledge"} == set(
        KNOWLEDGE
    )


def test_search_finds_the_scheduling_document_first(
    tmp_path: Path, embedder: Any
) -> None:
    from flows.rebuild import rebuild

    config = write_config(make_corpus(tmp_path))
    rebuild(config=str(config))
    client = open_store(tmp_path)
    vectors, _ = embedder.encode(["how do I schedule a deployment"])

    hits = client.query_points("kb", query=vectors[0].tolist(), limit=3).points

    assert hits[0].payload is not None
    assert hits[0].payload["document_id"].endswith("create-schedules.mdx")


def test_a_second_rebuild_writes_the_same_points_into_a_new_collection(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    config = write_config(make_corpus(tmp_path))
    first = rebuild(config=str(config))

    second = rebuild(config=str(config))

    client = open_store(tmp_path)
    assert second["collection"] != first["collection"]
    assert second["previous_target"] == first["collection"]
    old = points_of(client, first["collection"])
    new = points_of(client, second["collection"])
    assert old.keys() == new.keys()
    assert client.count(first["collection"], exact=True).count == len(old)


def test_a_rebuild_cut_short_is_continued_and_ends_identical_to_a_clean_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.rebuild import rebuild

    monkeypatch.setenv("QDRANT_REBUILD_UPSERT__BATCH_POINTS", "8")
    clean_root = make_corpus(tmp_path / "clean")
    clean = rebuild(config=str(write_config(clean_root)))
    clean_points = points_of(open_store(clean_root), clean["collection"])
    close_embedded()
    root = make_corpus(tmp_path / "broken")
    config = write_config(root)
    cut_short(str(config), monkeypatch, successes=2)

    resumed = rebuild(config=str(config))

    client = open_store(root)
    assert resumed["resumed"] is True
    assert resumed["documents_skipped"] >= 1
    assert resumed["status"] == "completed"
    final = points_of(client, resumed["collection"])
    assert final.keys() == clean_points.keys()
    for point_id, body in final.items():
        assert body == clean_points[point_id]


def cut_short(
    config: str,
    monkeypatch: pytest.MonkeyPatch,
    successes: int,
    sources: list[str] | None = None,
) -> None:
    """Run a rebuild whose upserts are refused after the first ``successes``: a run
    that stops part-way, leaving its collection to be continued."""
    from flows.rebuild import rebuild

    real_connect = runtime_module.connect
    monkeypatch.setattr(
        runtime_module,
        "connect",
        lambda settings: _FailsAfter(real_connect(settings), successes),
    )
    with pytest.raises(Exception, match="could not be written"):
        rebuild(config=config, sources=sources)
    monkeypatch.setattr(runtime_module, "connect", real_connect)
    runtime_module.forget()


class _FailsAfter:
    """A fake: the real client, whose upserts fail with a 400 after ``successes``."""

    def __init__(self, client: Any, successes: int) -> None:
        self.client = client
        self.left = successes

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != "upsert":
            return attribute

        def upsert(*args: Any, **kwargs: Any) -> Any:
            from tests.doubles import fault

            if self.left <= 0:
                raise fault("400")
            self.left -= 1
            return attribute(*args, **kwargs)

        return upsert


def test_transient_faults_at_ten_percent_still_end_with_exact_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.rebuild import rebuild

    config = write_config(make_corpus(tmp_path), extra="")
    real_connect = runtime_module.connect
    flaky: list[FlakyQdrant] = []

    def connect(settings: Any) -> FlakyQdrant:
        flaky.append(FlakyQdrant(real_connect(settings), rate=0.10, seed=11))
        return flaky[0]

    monkeypatch.setattr(runtime_module, "connect", connect)
    monkeypatch.setenv("QDRANT_REBUILD_UPSERT__BATCH_POINTS", "2")
    monkeypatch.setenv("QDRANT_REBUILD_UPSERT__BACKOFF_SECONDS", "0")

    summary = rebuild(config=str(config))

    client = open_store(tmp_path)
    assert sum(flaky[0].injected.values()) >= 3
    assert summary["status"] == "completed"
    assert client.count(summary["collection"], exact=True).count == summary["chunks"]


def test_backfill_skips_unchanged_replaces_changed_and_prunes_only_when_asked(
    tmp_path: Path,
) -> None:
    from flows.backfill import backfill
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    config = str(write_config(root))
    built = rebuild(config=config)
    knowledge = root / "knowledge"
    quickstart = knowledge / KNOWLEDGE[0]
    quickstart.write_text(quickstart.read_text()[:1500])  # shorter: fewer chunks
    timeouts = knowledge / KNOWLEDGE[1]
    timeouts.write_text(timeouts.read_text() + "\n\nOne more paragraph.\n")
    (knowledge / KNOWLEDGE[2]).unlink()

    kept = backfill(config=config)
    pruned = backfill(config=config, prune=True)

    client = open_store(root)
    assert kept["documents_updated"] == 2
    assert kept["documents_skipped"] == 1
    assert kept["points_deleted"] > 0
    assert kept["documents_deleted"] == 0
    assert pruned["documents_deleted"] == 1
    assert pruned["documents_skipped"] == 3
    stored = {b["document_id"] for b in points_of(client, built["collection"]).values()}
    assert KNOWLEDGE[2] not in stored
    shortened = [
        b
        for b in points_of(client, built["collection"]).values()
        if b["document_id"] == KNOWLEDGE[0]
    ]
    assert sorted(b["chunk_index"] for b in shortened) == list(range(len(shortened)))
    assert {b["chunk_count"] for b in shortened} == {len(shortened)}


def test_backfill_refuses_a_collection_of_another_model_before_writing(
    tmp_path: Path,
) -> None:
    from flows.backfill import backfill

    root = make_corpus(tmp_path)
    config = str(write_config(root))
    client = QdrantClient(path=str(root / "store"))
    client.create_collection(
        "other",
        vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT),
    )
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(
                    collection_name="other", alias_name="kb"
                )
            )
        ]
    )
    client.close()

    with pytest.raises(ModelMismatchError, match="3-dimension vectors"):
        backfill(config=config)

    assert open_store(root).count("other", exact=True).count == 0


def test_a_config_mistake_stops_the_run_before_anything_is_written(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    config = write_config(root)
    config.write_text(
        config.read_text().replace('path = "transcripts"', 'path = "nope"')
    )

    with pytest.raises(ConfigError, match="nope"):
        rebuild(config=str(config))

    assert open_store(root).get_collections().collections == []


def test_too_many_rejects_fail_the_run_after_writing_the_good_documents(
    tmp_path: Path,
) -> None:
    from flows.rebuild import rebuild

    root = make_corpus(tmp_path)
    shutil.copy(SAMPLES / "docs" / "image_disguised.md", root / "knowledge")
    config = write_config(root)

    with pytest.raises(RejectRateExceeded, match="1 of 5 documents were rejected"):
        rebuild(config=str(config))

    client = open_store(root)
    [collection] = [c.name for c in client.get_collections().collections]
    assert aliases(client) == {}
    assert client.count(collection, exact=True).count > 10
    rejects = (root / "runs" / collection / "rejects.jsonl").read_text()
    assert "image_disguised.md" in rejects
