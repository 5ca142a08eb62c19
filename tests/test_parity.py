"""run_parity against collections of real vectors in the embedded Qdrant."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from parity import run_parity
from qdrant_rebuild.errors import ParityError
from tests.parity_support import (
    DOCUMENT_IDS,
    build_collection,
    documents,
    langchain_payload,
    llamaindex_payload,
    name,
    settings,
)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def client() -> QdrantClient:
    return QdrantClient(":memory:")


def test_faithful_rebuild_passes_every_check(client, embedder) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder, seed=1)
    build_collection(client, new, embedder, seed=2)
    config = settings(old, required_payload_fields=("source", "document_id"))

    report = run_parity(
        config, new_collection=new, new_client=client, old_client=client
    )

    assert report.passed
    assert {c.name: c.status for c in report.checks} == {
        "counts": "pass",
        "coverage": "pass",
        "retrieval": "pass",
        "vectors": "pass",
        "payload_fields": "pass",
    }
    assert report.check("coverage").figures["missing_documents"] == []
    assert report.check("retrieval").figures["mean_overlap_at_k"] == 1.0
    assert report.check("vectors").figures["p5"] >= 0.9999
    assert report.parameters["queries"] == 12
    assert report.verdict_line().startswith("parity pass:")


def test_rebuild_missing_a_document_fails_coverage_and_names_it(
    client, embedder
) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder)
    build_collection(client, new, embedder, leave_out=("httpx/docs/http2.md",))

    report = run_parity(
        settings(old), new_collection=new, new_client=client, old_client=client
    )

    coverage = report.check("coverage")
    assert not report.passed
    assert coverage.status == "fail"
    assert coverage.figures["missing_documents"] == ["httpx/docs/http2.md"]
    assert [c.name for c in report.failed_checks()] == ["coverage"]
    assert "httpx/docs/http2.md" in report.verdict_line()
    assert report.verdict_line().startswith("parity fail:")


def test_rebuild_with_another_chunk_size_passes_coverage_and_retrieval(
    client, embedder
) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder, max_chars=500)
    build_collection(client, new, embedder, max_chars=250)

    report = run_parity(
        settings(old), new_collection=new, new_client=client, old_client=client
    )

    retrieval = report.check("retrieval")
    assert report.check("coverage").status == "pass"
    assert report.check("counts").figures["ratio"] > 1.0
    assert retrieval.status == "pass"
    assert retrieval.figures["mean_overlap_at_k"] >= 0.6
    assert retrieval.figures["top1_in_top_k"] >= 0.8


def test_langchain_layout_maps_file_paths_to_document_ids(client, embedder) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder, payload=langchain_payload)
    build_collection(client, new, embedder, max_chars=300)
    config = settings(
        old,
        text_field="page_content",
        document_key_field="metadata.source",
        document_key_normaliser="path_tail",
    )

    report = run_parity(
        config, new_collection=new, new_client=client, old_client=client
    )

    coverage = report.check("coverage").figures
    assert report.passed
    assert coverage["in_both"] == 8
    assert coverage["missing_documents"] == []
    assert coverage["new_only_documents"] == []


def test_an_older_version_of_a_document_is_listed_as_changed(client, embedder) -> None:
    old, new = name("old"), name("new")
    current = documents()["httpx/docs/logging.md"]
    older = current[: len(current) // 2] + (
        "\n\nLogging is configured through the HTTPX_LOG_LEVEL environment "
        "variable, which accepts debug or trace and prints to standard error."
    )
    build_collection(client, old, embedder, versions={"httpx/docs/logging.md": older})
    build_collection(client, new, embedder)

    report = run_parity(
        settings(old), new_collection=new, new_client=client, old_client=client
    )

    coverage = report.check("coverage")
    assert coverage.status == "pass"
    assert [c["document"] for c in coverage.figures["changed_documents"]] == [
        "httpx/docs/logging.md"
    ]


def test_llamaindex_node_content_layout_is_read(client, embedder) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder, payload=llamaindex_payload)
    build_collection(client, new, embedder, leave_out=("fastembed/docs/index.md",))
    config = settings(old, text_field="_node_content", document_key_field="doc_id")

    report = run_parity(
        config, new_collection=new, new_client=client, old_client=client
    )

    assert report.check("coverage").figures["missing_documents"] == [
        "fastembed/docs/index.md"
    ]
    assert report.check("vectors").figures["pairs"] > 0
    assert report.check("counts").figures["old_unmapped_points"] == 0


def test_unmappable_old_collection_raises_a_one_line_parity_error(
    client, embedder
) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder, payload=langchain_payload)
    build_collection(client, new, embedder)

    with pytest.raises(ParityError) as caught:
        run_parity(
            settings(old), new_collection=new, new_client=client, old_client=client
        )

    message = str(caught.value)
    assert "\n" not in message
    assert old in message
    assert "payload path 'text'" in message
    assert "page_content" in message


def test_empty_new_collection_fails_parity(client, embedder) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder)
    build_collection(client, new, embedder, leave_out=DOCUMENT_IDS)

    report = run_parity(
        settings(old), new_collection=new, new_client=client, old_client=client
    )

    assert not report.passed
    assert report.check("counts").status == "fail"
    assert report.check("counts").summary == "the new collection is empty"


def test_unknown_old_model_skips_the_model_checks_with_the_reason(
    client, embedder
) -> None:
    old, new = name("old"), name("new")
    build_collection(client, old, embedder)
    build_collection(client, new, embedder)

    report = run_parity(
        settings(old, old_model=""),
        new_collection=new,
        new_client=client,
        old_client=client,
    )

    assert report.passed
    assert report.check("retrieval").status == "skip"
    assert "old_model is empty" in (report.check("vectors").skipped or "")
