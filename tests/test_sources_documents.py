"""DocumentSource on the sample notes and the demo corpus's knowledge documents."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from config import SourceSettings
from qdrant_rebuild.errors import ConfigError, SourceError
from sources import Document, DocumentSource, Segment, content_hash, open_source

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "samples" / "docs"
CORPUS = ROOT / "examples" / "corpus" / "knowledge"


def _source(path: Path, **options: tuple[str, ...]) -> DocumentSource:
    settings = SourceSettings(name="notes", kind="documents", path=path, **options)
    source = open_source(settings)
    assert isinstance(source, DocumentSource)
    return source


def _load(path: Path, document_id: str) -> Document:
    source = _source(path)
    refs = {ref.document_id: ref for ref in source.scan()}
    return source.load(refs[document_id])


def test_scan_lists_every_sample_by_relative_path_in_order() -> None:
    source = _source(SAMPLES)

    ids = [ref.document_id for ref in source.scan()]

    assert ids == [
        "bad_frontmatter.md",
        "cp1252.txt",
        "dup_a.md",
        "dup_b.md",
        "empty.md",
        "image_disguised.md",
        "long_no_whitespace.md",
        "note_frontmatter.md",
        "page.html",
        "plain.txt",
    ]


def test_front_matter_keeps_what_the_author_wrote_and_is_json_safe() -> None:
    document = _load(SAMPLES, "note_frontmatter.md")

    front_matter = document.metadata["front_matter"]

    assert front_matter == {
        "title": "Re-embedding runbook",
        "created": "2024-01-15",
        "updated": "2024-01-15T09:30:00+01:00",
        "country": "NO",
        "draft": "yes",
        "version": "1.10",
        "tags": ["ops", "qdrant", "embeddings"],
        "aliases": ["Reindex runbook"],
        "owner": "Example Person",
    }
    assert json.loads(json.dumps(document.metadata)) == document.metadata
    assert document.title == "Re-embedding runbook"
    assert document.warnings == []


def test_rules_and_fences_with_dashes_are_not_front_matter_or_headings() -> None:
    document = _load(SAMPLES, "note_frontmatter.md")

    first, second = document.segments

    assert [s.heading_path for s in document.segments] == [
        ("Re-embedding runbook",),
        ("Re-embedding runbook", "Config example"),
    ]
    assert first.text.startswith("Steps to rebuild the collection. Dates above are")
    assert first.text.endswith(
        "`1.1`.\n\nThe line above is a Markdown horizontal rule, "
        "not the end of front matter."
    )
    assert second.text.startswith(
        "```yaml\n---\ncollection: kb_v2\nvector_size: 384\n---\n```"
    )
    assert "# a comment that starts with '#' but is not a heading" in second.text
    assert second.text.endswith(
        "[^1]: Footnotes live at the end and get split away from their reference."
    )


def test_invalid_front_matter_is_a_warning_and_the_body_is_indexed() -> None:
    document = _load(SAMPLES, "bad_frontmatter.md")

    assert document.text == (
        "A document whose front matter is not valid YAML. "
        "The body must still be indexed."
    )
    assert document.title == "bad_frontmatter.md"
    assert "front_matter" not in document.metadata
    assert document.warnings == [
        "invalid YAML front matter (line 4, column 1: expected <block end>, "
        "but found '-'); left out, body indexed"
    ]


def test_cp1252_text_is_decoded_with_a_stated_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = _load(SAMPLES, "cp1252.txt")

    assert document.text == (
        "Café notes – “quoted” text, 50€, naïve résumé. Second line."
    )
    assert document.warnings == [
        "not valid UTF-8 (byte 0xe9 at offset 3); decoded as cp1252"
    ]
    assert "read as cp1252, not UTF-8" in caplog.text


def test_byte_identical_files_are_two_documents_with_one_hash() -> None:
    first = _load(SAMPLES, "dup_a.md")

    second = _load(SAMPLES, "dup_b.md")

    assert (first.document_id, second.document_id) == ("dup_a.md", "dup_b.md")
    assert first.content_hash == second.content_hash
    assert first.text == "The same content saved twice under different paths."
    assert first.segments[0].heading_path == ("Duplicate",)


def test_empty_file_is_a_document_without_segments() -> None:
    document = _load(SAMPLES, "empty.md")

    assert document.empty
    assert document.title == "empty.md"


def test_png_named_md_is_rejected_as_binary() -> None:
    source = _source(SAMPLES)
    ref = next(r for r in source.scan() if r.document_id == "image_disguised.md")

    with pytest.raises(SourceError) as caught:
        source.load(ref)

    assert caught.value.reason == "binary content (PNG image), not text"
    assert caught.value.path == ref.paths[0]


def test_long_text_without_whitespace_is_kept_whole() -> None:
    raw = (SAMPLES / "long_no_whitespace.md").read_text(encoding="utf-8")
    blob = raw.split("\n\n")[1]

    document = _load(SAMPLES, "long_no_whitespace.md")

    [segment] = document.segments
    assert segment.heading_path == ("Pasted blob",)
    assert segment.text == f"{blob}\n\nEnd of note."
    assert len(blob) > 8000


def test_html_page_gives_content_only_with_a_charset_warning() -> None:
    document = _load(SAMPLES, "page.html")

    [section] = document.segments

    assert document.title == "Parity checks & re-embedding"
    assert section.heading_path == ("Parity checks & re-embedding",)
    assert section.text == (
        "This page declares iso-8859-1 but is actually saved as UTF-8: "
        "“smart quotes”, café, naïve.\n"
        "Entities: <tag> — — © and a bare & ampersand.\n"
        "for point in scroll(collection):\n"
        "    assert point.vector is not None\n"
        "old | new\n"
        "12,345 | 12,344\n"
        "Unclosed paragraph\n"
        "Unclosed div"
    )
    assert document.warnings == [
        "declares charset iso-8859-1 but the bytes are valid UTF-8; read as UTF-8"
    ]


def test_html_in_a_declared_charset_that_is_not_utf8_uses_it(tmp_path: Path) -> None:
    page = '<meta charset="koi8-r"><h1>Заголовок</h1><p>Текст</p>'
    (tmp_path / "page.html").write_bytes(page.encode("koi8-r"))

    document = _load(tmp_path, "page.html")

    assert (document.title, document.text) == ("Заголовок", "Текст")
    assert document.warnings[0].endswith("decoded as koi8-r")


def test_plain_text_is_joined_cleaned_and_nfc() -> None:
    document = _load(SAMPLES, "plain.txt")

    [section] = document.segments

    assert document.title == "Plain text note"
    assert section.heading_path == ("Plain text note",)
    assert section.text == (
        "Hard-wrapped paragraph that continues on the next line without a blank "
        "line so a line-based splitter cuts mid-sentence.\n\n"
        "Non-breaking space, zerowidth space, softhyphen, and “curly” ‘quotes’. "
        "Tabs between words and trailing spaces\n\n"
        "After a form feed. Ligature file and full-width ABC and combining é vs "
        "precomposed é."
    )
    assert unicodedata.is_normalized("NFC", section.text)


def test_content_hash_is_equal_for_nfc_equal_texts() -> None:
    decomposed, composed = "cafe\u0301", "caf\u00e9"

    first = Document("s", "a", "document", "t", None, [Segment(decomposed)])
    second = Document("s", "b", "document", "t", None, [Segment(composed)])

    assert content_hash(decomposed) == content_hash(composed)
    assert first.content_hash == second.content_hash
    assert first.text == second.text == composed


def test_content_hash_changes_when_a_heading_changes() -> None:
    under_a = [Segment("x", heading_path=("A",))]
    under_b = [Segment("x", heading_path=("B",))]

    before = Document("s", "a", "document", "t", None, under_a)
    after = Document("s", "a", "document", "t", None, under_b)

    assert before.content_hash != after.content_hash


def test_mdx_drops_imports_exports_and_tags_but_keeps_their_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "page.mdx").write_text(
        "---\ntitle: Guide\n---\n"
        "import Tabs from '@theme/Tabs';\n"
        "export const meta = {\n  a: 1,\n};\n\n"
        "# Setup\n\n"
        '<Tabs>\n<Tab title="Python">\n'
        "Run `<Tool>` with <b>care</b>.\n</Tab>\n</Tabs>\n"
        "{/* generated */}\n"
        "```bash\nexport KEY=1\nimport os\n<Tag>\n```\n",
        encoding="utf-8",
    )

    document = _load(tmp_path, "page.mdx")

    assert document.title == "Guide"
    assert document.segments[0].heading_path == ("Setup",)
    assert document.text == (
        "Python\n\nRun `<Tool>` with care.\n\n```bash\nexport KEY=1\nimport os\n"
        "<Tag>\n```"
    )


def test_heading_paths_follow_levels_and_skip_fenced_hashes(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "intro\n\n# One\n\ntext 1\n\n## Two {#two}\n\n```\n# not a heading\n```\n\n"
        "### Three\n\ntext 3\n\n## Four\n\ntext 4\n\nSetext\n------\n\ntext 5\n",
        encoding="utf-8",
    )

    document = _load(tmp_path, "a.md")

    assert [(s.heading_path, s.text) for s in document.segments] == [
        ((), "intro"),
        (("One",), "text 1"),
        (("One", "Two"), "```\n# not a heading\n```"),
        (("One", "Two", "Three"), "text 3"),
        (("One", "Four"), "text 4"),
        (("One", "Setext"), "text 5"),
    ]


def test_include_and_exclude_globs_and_hidden_files(tmp_path: Path) -> None:
    for name in ("a.md", "docs/b.md", "docs/deep/c.mdx", "docs/skip.md", ".hid/d.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# x\n\ny\n", encoding="utf-8")
    (tmp_path / "docs" / ".e.md").write_text("z", encoding="utf-8")
    source = _source(tmp_path, include=("docs/**",), exclude=("skip.md",))

    ids = [ref.document_id for ref in source.scan()]

    assert ids == ["docs/b.md", "docs/deep/c.mdx"]


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    settings = SourceSettings(name="notes", kind="documents", path=tmp_path / "gone")

    with pytest.raises(ConfigError) as caught:
        open_source(settings)

    assert str(caught.value) == (
        f"source 'notes': {tmp_path / 'gone'} does not exist; "
        "fix its path in the config"
    )


def test_corpus_scan_finds_all_knowledge_documents() -> None:
    source = _source(CORPUS)

    refs = list(source.scan())

    assert len(refs) == 358
    assert sum(ref.document_id.endswith(".mdx") for ref in refs) == 142
    assert refs == sorted(refs, key=lambda ref: ref.document_id)


def test_every_corpus_document_loads_with_sections() -> None:
    source = _source(CORPUS)

    documents = [source.load(ref) for ref in source.scan()]

    assert all(not document.empty for document in documents)
    assert sum("front_matter" in d.metadata for d in documents) == 244
    assert not any(d.warnings for d in documents)
    json.dumps([document.metadata for document in documents])
    # Prefect's MDX pages import shared snippets at the top level.
    assert not any('from "/snippets/' in d.text for d in documents)


def test_windows_line_endings_do_not_hide_headings_or_front_matter(
    tmp_path: Path,
) -> None:
    (tmp_path / "crlf.md").write_bytes(
        b"---\r\ntitle: CRLF\r\n---\r\n# Top\r\n\r\nbody\r\n\r\n---\r\n\r\nmore\r\n"
    )

    document = _load(tmp_path, "crlf.md")

    assert document.title == "CRLF"
    assert [(s.heading_path, s.text) for s in document.segments] == [
        (("Top",), "body\n\nmore")
    ]
