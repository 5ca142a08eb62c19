"""Field paths and document-key normalisers of old collections' layouts."""

from __future__ import annotations

import json

import pytest

from parity.layout import (
    KeyNormaliser,
    PathTailMatcher,
    field_value,
    normalise_text,
    text_value,
    youtube_video_id,
)
from parity.legacy import parse_version, public_url


def test_dotted_path_reads_nested_fields_and_keys_holding_dots() -> None:
    payload = {"metadata": {"source": "/a/b.md"}, "meta.page": 3}

    values = [field_value(payload, p) for p in ("metadata.source", "meta.page", "x.y")]

    assert values == ["/a/b.md", 3, None]


def test_llamaindex_node_content_is_opened_for_its_text() -> None:
    node = {"text": "the chunk", "metadata": {"file_path": "/docs/a.md"}}
    payload = {"_node_content": json.dumps(node), "doc_id": "d1"}

    text = text_value(payload, "_node_content")
    path = field_value(payload, "_node_content.metadata.file_path")

    assert (text, path) == ("the chunk", "/docs/a.md")


@pytest.mark.parametrize(
    "value",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://m.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "dQw4w9WgXcQ",
    ],
)
def test_youtube_urls_normalise_to_the_video_id(value: str) -> None:
    assert youtube_video_id(value) == "dQw4w9WgXcQ"


def test_a_value_that_is_no_youtube_url_is_kept() -> None:
    assert youtube_video_id("https://example.com/watch?v=x") == (
        "https://example.com/watch?v=x"
    )


def test_path_tail_takes_the_longest_document_id_ending_the_path() -> None:
    matcher = PathTailMatcher(["index.md", "docs/index.md", "httpx/docs/index.md"])

    key = matcher("/home/school/knowledge/httpx/docs/index.md")

    assert key == "httpx/docs/index.md"


def test_path_tail_cuts_unmatched_paths_at_the_root_learned_from_the_others() -> None:
    normaliser = KeyNormaliser(PathTailMatcher(["prefect/a.mdx", "httpx/b.md"]))
    paths = [
        "/home/school/knowledge/gone/c.md",
        "C:\\school\\knowledge\\prefect\\a.mdx",
        "/home/school/knowledge/httpx/b.md",
    ]

    keys = normaliser.learn(paths)

    assert list(keys.values()) == ["gone/c.md", "prefect/a.mdx", "httpx/b.md"]


def test_non_string_keys_normalise_to_stable_json() -> None:
    normaliser = KeyNormaliser(None)

    keys = [normaliser({"b": 1, "a": 2}), normaliser(7), normaliser("")]

    assert keys == ['{"a": 2, "b": 1}', "7", None]


def test_normalised_text_ignores_whitespace_and_unicode_form() -> None:
    assert normalise_text("  Cafe\u0301\n\n  au  lait ") == "Café au lait"


def test_versions_and_urls_read_for_reports() -> None:
    url = public_url("https://user:secret@qdrant.example:6333/?api_key=k")

    assert parse_version("1.7.4") < (1, 10, 0) <= parse_version("1.10.0-rc1")
    assert url == "https://qdrant.example:6333/"
