"""run_parity against an old Qdrant server over REST: FakeQdrant17 on 127.0.0.1."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models

from config.settings import Secrets
from parity import run_parity
from qdrant_rebuild.errors import ParityError
from tests.parity_support import (
    FakeQdrant17,
    build_collection,
    langchain_payload,
    name,
    settings,
)


@pytest.fixture(scope="module")
def client() -> QdrantClient:
    return QdrantClient(":memory:")


@pytest.mark.model
def test_old_qdrant_17_server_is_read_over_rest_only(client, embedder) -> None:
    new = name("new")
    points = build_collection(client, name("src"), embedder, payload=langchain_payload)
    build_collection(client, new, embedder, max_chars=300)
    secrets = Secrets(old_qdrant_api_key="key-7f3a")

    with FakeQdrant17("school", points, api_key="key-7f3a") as fake:
        config = settings(
            "school",
            old_url=fake.url.replace("http://", "http://reader:pw@"),
            text_field="page_content",
            document_key_field="metadata.source",
            document_key_normaliser="path_tail",
        ).model_copy(update={"secrets": secrets})
        report = run_parity(config, new_collection=new, new_client=client)

    assert report.passed
    assert report.old.version == "1.7.4"
    assert report.old.server == fake.url
    assert "POST /collections/school/points/search" in fake.requests
    assert not [r for r in fake.requests if "/query" in r or "/exists" in r]
    assert "key-7f3a" not in report.to_json() + report.to_markdown()


@pytest.mark.model
def test_404_for_an_existing_old_collection_is_not_taken_for_missing(
    client, embedder
) -> None:
    new = name("new")
    points = build_collection(client, name("src"), embedder)
    build_collection(client, new, embedder)

    with FakeQdrant17("school", points, lacking=("/points/search",)) as fake:
        config = settings("school", old_url=fake.url)
        with pytest.raises(ParityError) as caught:
            run_parity(config, new_collection=new, new_client=client)

    assert "although collection school exists" in str(caught.value)
    assert "GET /collections" in fake.requests


@pytest.mark.model
def test_missing_old_collection_on_a_server_lists_what_is_there(
    client, embedder
) -> None:
    new = name("new")
    build_collection(client, new, embedder)

    with FakeQdrant17("school", []) as fake:
        config = settings("college", old_url=fake.url)
        with pytest.raises(ParityError) as caught:
            run_parity(config, new_collection=new, new_client=client)

    assert str(caught.value) == (
        f"collection college does not exist on Qdrant 1.7.4 at {fake.url} "
        "(collections: school)"
    )


def test_an_old_server_that_does_not_answer_raises_one_line_naming_it(
    client,
) -> None:
    new = name("new")
    client.create_collection(
        new, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    )
    config = settings("school", old_url="http://user:pw@127.0.0.1:9")

    with pytest.raises(ParityError) as caught:
        run_parity(config, new_collection=new, new_client=client)

    assert str(caught.value) == (
        "old collection school: cannot read the version of the server: Qdrant at "
        "http://127.0.0.1:9 did not answer (ConnectError); check parity.old_url"
    )
