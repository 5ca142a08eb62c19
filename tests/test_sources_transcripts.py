"""TranscriptSource on the sample captions and the demo corpus's film subtitles."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import SourceSettings
from qdrant_rebuild.errors import ConfigError, SourceError
from sources import Document, TranscriptSource, open_source
from sources.base import DocumentRef
from sources.captions import parse_cues, spoken_segments

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "samples" / "transcripts"
CORPUS = ROOT / "examples" / "corpus" / "transcripts"

AUTO_LINES = [
    ("hey everyone welcome back to the channel", 3.8),
    ("today we're rebuilding a vector index from scratch", 6.279),
    ("Q&A is at the end so stick around", 9.12),
    (">> yeah and the first step is chunking", 12.44),
    ("so um the the embedding model has a limit", 18.16),
    ("and that's it thanks for watching", 48.0),
]


def _source(path: Path, **options: tuple[str, ...]) -> TranscriptSource:
    settings = SourceSettings(name="videos", kind="transcripts", path=path, **options)
    source = open_source(settings)
    assert isinstance(source, TranscriptSource)
    return source


def _load(path: Path, document_id: str) -> Document:
    source = _source(path)
    refs = {ref.document_id: ref for ref in source.scan()}
    return source.load(refs[document_id])


def _lines(document: Document) -> list[tuple[str, float | None]]:
    return [(segment.text, segment.start) for segment in document.segments]


def test_scan_names_one_document_per_video_and_language_in_id_order() -> None:
    source = _source(SAMPLES)

    refs = list(source.scan())

    assert [ref.document_id for ref in refs] == [
        "yt_auto_converted.en",
        "yt_auto_en.und",
        "yt_header_only.und",
        "yt_manual_en.und",
        "ytt_api_generated.und",
    ]
    assert all(Path(path).is_absolute() for ref in refs for path in ref.paths)


def test_auto_captions_output_each_spoken_line_once() -> None:
    document = _load(SAMPLES, "yt_auto_en.und")

    assert _lines(document) == AUTO_LINES
    assert document.segments[0].end == 6.269
    assert document.warnings == []


def test_auto_captions_keep_the_last_cue_after_a_silence() -> None:
    document = _load(SAMPLES, "yt_auto_en.und")

    last = document.segments[-1]

    assert (last.text, last.start, last.end) == (
        "and that's it thanks for watching",
        48.0,
        50.32,
    )


def test_auto_captions_keep_a_line_said_twice_in_a_row() -> None:
    text = (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.000\n \nokay<00:00:01.500><c> then</c>\n\n"
        "00:00:02.000 --> 00:00:02.010\nokay then\n \n\n"
        "00:00:02.010 --> 00:00:03.000\nokay then\nokay<00:00:02.500><c> then</c>\n\n"
        "00:00:03.000 --> 00:00:03.010\nokay then\n \n"
    )

    segments = spoken_segments(parse_cues(text)[0])

    assert [(s.text, s.start) for s in segments] == [
        ("okay then", 1.0),
        ("okay then", 2.01),
    ]


def test_converted_srt_gives_the_same_lines_as_the_vtt() -> None:
    vtt = _load(SAMPLES, "yt_auto_en.und")

    srt = _load(SAMPLES, "yt_auto_converted.en")

    # The SubRip sample is the first three spoken lines of the same track.
    assert _lines(srt) == _lines(vtt)[:3]
    assert srt.text == "\n".join(text for text, _ in AUTO_LINES[:3])


def test_transcript_api_json_gives_the_same_normalised_text_as_the_vtt() -> None:
    vtt = _load(SAMPLES, "yt_auto_en.und")

    api = _load(SAMPLES, "ytt_api_generated.und")

    assert api.text == vtt.text
    assert _lines(api) == AUTO_LINES
    # Display durations overlap the next entry; the end is cut at the next start.
    assert (api.segments[0].start, api.segments[0].end) == (3.8, 6.279)


def test_sound_tags_are_dropped_in_every_format() -> None:
    ids = ("yt_auto_en.und", "ytt_api_generated.und", "yt_manual_en.und")

    documents = [_load(SAMPLES, document_id) for document_id in ids]

    texts = [document.text for document in documents]
    assert not any("[" in text or "]" in text for text in texts)
    assert documents[2].segments[-1].text == "♪ la la la ♪"


def test_manual_captions_are_read_in_full_with_warnings() -> None:
    document = _load(SAMPLES, "yt_manual_en.und")

    segments = [(s.text, s.start, s.end) for s in document.segments]

    assert segments == [
        ("Welcome to Example Channel. Today: embeddings & vector search.", 0.5, 3.2),
        (
            ">> HOST: First, why re-embed at all? >> GUEST: Because the model changed.",
            3.2,
            6.0,
        ),
        ("(overlaps the previous cue by half a second)", 5.5, 8.75),
        ("Short mm:ss.mmm timestamps, with cue settings.", 8.75, 10.0),
        ("Prices went from $5 < $10 — don't quote me.", 10.0, 12.5),
        ("(zero-length cue)", 12.5, 12.5),
        ("(end before start: malformed but seen in the wild)", 14.0, 14.0),
        ("♪ la la la ♪", 15.0, 18.0),
    ]
    assert document.warnings == [
        "1 cue(s) overlap the cue before, first at 5.500 s; kept",
        "1 zero-length cue(s), first at 12.500 s; kept",
        "1 cue(s) end before they start, first at 14.000 s; "
        "kept with the end set to the start",
    ]


def test_header_only_vtt_is_an_empty_document() -> None:
    document = _load(SAMPLES, "yt_header_only.und")

    assert document.empty
    assert document.segments == []
    assert document.text == ""


def test_file_name_without_language_gets_und_and_defaults() -> None:
    document = _load(SAMPLES, "yt_auto_en.und")

    assert document.title == "yt_auto_en"
    assert document.url == "https://www.youtube.com/watch?v=yt_auto_en"
    assert document.kind == "transcript"
    assert document.metadata == {
        "video_id": "yt_auto_en",
        "language": "und",
        "format": "vtt",
        "channel": None,
        "upload_date": None,
        "duration": None,
    }


def test_info_json_gives_title_channel_date_duration_and_chapters(
    tmp_path: Path,
) -> None:
    shutil.copy(SAMPLES / "AbCdEfGhI_0.info.json", tmp_path)
    shutil.copy(SAMPLES / "yt_auto_en.vtt", tmp_path / "AbCdEfGhI_0.en.vtt")
    source = _source(tmp_path)

    [ref] = list(source.scan())
    document = source.load(ref)

    assert ref.document_id == "AbCdEfGhI_0.en"
    assert ref.modified == datetime(2024, 1, 15, tzinfo=UTC).timestamp()
    assert document.title == (
        "Rebuilding a Vector Index: Chunking, Embeddings & Parity Checks | Part 1/3"
    )
    assert document.url == "https://www.youtube.com/watch?v=AbCdEfGhI_0"
    assert document.metadata == {
        "video_id": "AbCdEfGhI_0",
        "language": "en",
        "format": "vtt",
        "channel": "Example Channel",
        "upload_date": "2024-01-15",
        "duration": 754,
        "chapters": [
            {"title": "Intro", "start_time": 0.0, "end_time": 228.0},
            {"title": "Chunking", "start_time": 228.0, "end_time": 750.0},
            {"title": "Q&A", "start_time": 750.0, "end_time": 754.0},
        ],
    }
    assert json.loads(json.dumps(document.metadata)) == document.metadata


def test_unreadable_info_json_is_a_warning_not_a_rejection(tmp_path: Path) -> None:
    (tmp_path / "AbCdEfGhI_0.info.json").write_text("{not json")
    shutil.copy(SAMPLES / "yt_auto_en.vtt", tmp_path / "AbCdEfGhI_0.en.vtt")
    source = _source(tmp_path)

    document = source.load(next(source.scan()))

    assert document.title == "AbCdEfGhI_0"
    assert len(document.segments) == 6
    assert document.warnings[0].startswith("AbCdEfGhI_0.info.json cannot be read")


def test_vtt_is_preferred_over_srt_and_json_of_the_same_video(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "ytt_api_generated.json", tmp_path / "vid.en.json")
    shutil.copy(SAMPLES / "yt_auto_converted.en.srt", tmp_path / "vid.en.srt")
    shutil.copy(SAMPLES / "yt_auto_en.vtt", tmp_path / "vid.en.vtt")
    shutil.copy(SAMPLES / "yt_auto_converted.en.srt", tmp_path / "vid.de.srt")

    refs = list(_source(tmp_path).scan())

    assert [(r.document_id, Path(r.paths[0]).name) for r in refs] == [
        ("vid.de", "vid.de.srt"),
        ("vid.en", "vid.en.vtt"),
    ]


def test_yt_dlp_title_template_gives_the_bracketed_video_id(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "yt_auto_en.vtt", tmp_path / "Talk 1.2 [AbCdEfGhI_0].en.vtt")

    [ref] = list(_source(tmp_path).scan())

    assert ref.document_id == "AbCdEfGhI_0.en"


def test_a_cue_without_a_blank_line_before_it_is_read() -> None:
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfirst\n"
        "2\n00:00:02.000 --> 00:00:03.000\nsecond\n"
    )

    cues, warnings = parse_cues(text)

    assert [(c.start, c.lines) for c in cues] == [(1.0, ("first",)), (2.0, ("second",))]
    assert warnings == []


def test_transcript_json_that_is_not_a_list_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "vid.en.json").write_text('{"text": "hello"}')
    source = _source(tmp_path)

    with pytest.raises(SourceError) as caught:
        source.load(next(source.scan()))

    assert caught.value.reason == (
        "not a youtube-transcript-api transcript: expected a JSON list of "
        "{text, start, duration}"
    )


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    settings = SourceSettings(name="videos", kind="transcripts", path=tmp_path / "no")

    with pytest.raises(ConfigError) as caught:
        open_source(settings)

    assert "'videos'" in str(caught.value)
    assert str(tmp_path / "no") in str(caught.value)


def test_corpus_scan_gives_one_document_per_video_and_language() -> None:
    source = _source(CORPUS)

    refs = list(source.scan())

    assert len(refs) == 14
    assert {ref.document_id for ref in refs} >= {
        "7y8DlcmFFSy.en-x-chapters",
        "7y8DlcmFFSy.ja",
        "JLMUj4SPYCG.de",
        "au1RdWvsUUC.en",
    }
    assert all(len(ref.paths) == 2 for ref in refs)


def test_every_corpus_transcript_loads_with_its_cues() -> None:
    source = _source(CORPUS)

    documents = {ref.document_id: source.load(ref) for ref in source.scan()}

    counts = {key: len(document.segments) for key, document in documents.items()}
    assert counts["5PPJYH__YGB.en"] == 26
    assert counts["7y8DlcmFFSy.en"] == 78
    assert counts["7y8DlcmFFSy.en-x-chapters"] == 9
    assert counts["q77vjeL7FvL.en"] == 89
    assert all(not document.empty for document in documents.values())
    assert documents["JHmpNUiOYQB.en"].url == "https://peach.blender.org/"
    json.dumps([document.metadata for document in documents.values()])


def test_corpus_auto_caption_excerpt_drops_rolling_repeats() -> None:
    document = _load(CORPUS, "au1RdWvsUUC.en")

    assert _lines(document) == [
        ("yeah", 286.07),
        ("what", 286.47),
        ("this will happen is I'm telling", 304.08),
    ]


def test_corpus_voice_tags_are_removed_from_cue_text() -> None:
    document = _load(CORPUS, "q77vjeL7FvL.en")

    assert document.segments[0].text == "At the left we can see..."
    assert document.segments[2].text == "...the head-snarlers"


def test_load_of_a_vanished_file_is_a_source_error(tmp_path: Path) -> None:
    source = _source(tmp_path)
    ref = DocumentRef("videos", "gone.en", (str(tmp_path / "gone.en.vtt"),), 0.0)

    with pytest.raises(SourceError) as caught:
        source.load(ref)

    assert caught.value.reason.startswith("cannot read the file")


def test_transcript_json_entry_without_a_start_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    (tmp_path / "vid.en.json").write_text(
        '[{"text": "one", "start": 1, "duration": 2}, {"text": "two"},'
        ' {"text": "three", "start": 4.5}]'
    )
    source = _source(tmp_path)

    document = source.load(next(source.scan()))

    assert [(s.text, s.start, s.end) for s in document.segments] == [
        ("one", 1.0, 3.0),
        ("three", 4.5, 4.5),
    ]
    assert document.warnings == [
        "1 entry(ies) without a numeric start skipped, first at entry 2"
    ]
