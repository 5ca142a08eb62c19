"""YouTube transcripts as yt-dlp and youtube-transcript-api leave them in a folder.

One document per video and language (id ``<video id>.<language>``) from .vtt, .srt
or .json captions, with the ``<id>.info.json`` beside them as metadata.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from config import SourceSettings
from qdrant_rebuild.errors import SourceError
from sources.base import Document, DocumentRef
from sources.captions import (
    cue_warnings,
    parse_cues,
    parse_transcript_json,
    spoken_segments,
)
from sources.files import modified_time, read_bytes, source_root, walk
from sources.text import clean_characters, collapse_spaces, decode

logger = logging.getLogger(__name__)

# When one video and language is there in several formats, the first one here is
# read: WebVTT keeps the inline timing of automatic captions, SubRip has lost it,
# and the API's JSON has neither cue settings nor the rolling layout to check.
FORMAT_PREFERENCE = ("vtt", "srt", "json")

# The language of a file whose name has none, e.g. ``yt_auto_en.vtt`` or the
# ``<id>.json`` of youtube-transcript-api: BCP 47 "undetermined". The id stays
# what the name says; a language is never guessed from a header or the words.
UNDETERMINED = "und"

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# yt-dlp's default output template ends in " [<id>]": "Some title [AbCdEfGhI_0]".
_BRACKETED_ID = re.compile(r"\[([A-Za-z0-9_-]{11})\]$")
# yt-dlp writes the chat replay of a live stream as a "live_chat" subtitle.
_NOT_CAPTIONS = (".live_chat.json",)


@dataclass(frozen=True)
class _CaptionFile:
    path: Path
    stem: str
    video_id: str
    language: str
    format: str


class TranscriptSource:
    """A folder of caption files, one document per video and language.

    Where a video and language is there in several formats, vtt is read before
    srt before json (``FORMAT_PREFERENCE``). A file name without a language gets
    "und". Sound tags such as ``[Music]`` are dropped in every format.
    """

    kind = "transcripts"

    def __init__(self, settings: SourceSettings) -> None:
        self.name = settings.name
        self.root = source_root(settings)
        self.include = settings.include
        self.exclude = settings.exclude

    def scan(self) -> Iterator[DocumentRef]:
        """One reference per video and language, in id order."""
        chosen: dict[tuple[str, str], _CaptionFile] = {}
        for _, path in walk(self.root, self.include, self.exclude):
            caption = _caption_file(path)
            if caption is None:
                continue
            key = (caption.video_id, caption.language)
            if key not in chosen or _rank(caption) < _rank(chosen[key]):
                if key in chosen:
                    logger.debug("%s: %s preferred", chosen[key].path, caption.format)
                chosen[key] = caption
            else:
                logger.debug("%s: %s preferred", path, chosen[key].format)
        for (video_id, language), caption in sorted(chosen.items()):
            info_path = _info_path(caption)
            info = _read_info(info_path)[0] if info_path else {}
            uploaded = _upload_date(info.get("upload_date"))
            yield DocumentRef(
                source=self.name,
                document_id=f"{video_id}.{language}",
                paths=(str(caption.path),) + ((str(info_path),) if info_path else ()),
                modified=(
                    datetime.combine(uploaded, datetime.min.time(), UTC).timestamp()
                    if uploaded
                    else modified_time(caption.path)
                ),
            )

    def load(self, ref: DocumentRef) -> Document:
        """Read one video and language; SourceError for an unreadable caption file."""
        path = Path(ref.paths[0])
        caption = _caption_file(path)
        if caption is None:
            raise SourceError(str(path), "not a .vtt, .srt or transcript .json file")
        try:
            decoded = decode(read_bytes(path))
        except ValueError as exc:
            raise SourceError(str(path), str(exc)) from exc
        if decoded.encoding != "utf-8":
            logger.warning("%s: read as %s, not UTF-8", path, decoded.encoding)
        warnings = list(decoded.warnings)

        # Cues from the file, then the spoken lines.
        if caption.format == "json":
            try:
                cues, parse_warnings = parse_transcript_json(decoded.text)
            except ValueError as exc:
                raise SourceError(str(path), str(exc)) from exc
            warnings += parse_warnings
        else:
            if caption.format == "vtt" and not decoded.text.startswith("WEBVTT"):
                warnings.append("no WEBVTT header; read as cues anyway")
            cues, parse_warnings = parse_cues(decoded.text)
            warnings += parse_warnings + cue_warnings(cues)
        segments = spoken_segments(cues)

        # Metadata from the info.json beside it, when there is one.
        info: dict[str, Any] = {}
        if len(ref.paths) > 1:
            info, info_warning = _read_info(Path(ref.paths[1]))
            if info_warning:
                warnings.append(info_warning)
        metadata = _metadata(caption, info)
        title = info.get("title") if isinstance(info.get("title"), str) else None
        url = info.get("webpage_url")
        for warning in warnings:
            logger.debug("%s: %s", path, warning)
        return Document(
            source=self.name,
            document_id=ref.document_id,
            kind="transcript",
            title=collapse_spaces(clean_characters(title or caption.video_id)),
            url=url
            if isinstance(url, str) and url
            else f"https://www.youtube.com/watch?v={caption.video_id}",
            segments=segments,
            metadata=metadata,
            warnings=warnings,
        )


def _caption_file(path: Path) -> _CaptionFile | None:
    name = path.name
    if name.endswith(".info.json") or name.endswith(_NOT_CAPTIONS):
        return None
    stem, _, extension = name.rpartition(".")
    extension = extension.lower()
    if not stem or extension not in FORMAT_PREFERENCE:
        return None
    base, _, language = stem.rpartition(".")
    if not base or not _LANGUAGE.match(language):
        base, language = stem, UNDETERMINED
    bracketed = _BRACKETED_ID.search(base)
    video_id = bracketed.group(1) if bracketed else base
    return _CaptionFile(path, base, video_id, language, extension)


def _rank(caption: _CaptionFile) -> int:
    return FORMAT_PREFERENCE.index(caption.format)


def _info_path(caption: _CaptionFile) -> Path | None:
    path = caption.path.with_name(f"{caption.stem}.info.json")
    return path if path.is_file() else None


def _read_info(path: Path) -> tuple[dict[str, Any], str | None]:
    """The info.json as a dict, or an empty one and why it could not be used."""
    try:
        info = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{path.name} cannot be read ({exc}); metadata left out"
    if not isinstance(info, dict):
        return {}, f"{path.name} is not a JSON object; metadata left out"
    return info, None


def _upload_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def _metadata(caption: _CaptionFile, info: dict[str, Any]) -> dict[str, Any]:
    """The payload's metadata: JSON-safe, every key present, None when unknown."""
    uploaded = _upload_date(info.get("upload_date"))
    channel = info.get("channel") or info.get("uploader")
    duration = info.get("duration")
    metadata: dict[str, Any] = {
        "video_id": caption.video_id,
        "language": caption.language,
        "format": caption.format,
        "channel": channel if isinstance(channel, str) else None,
        "upload_date": uploaded.isoformat() if uploaded else None,
        "duration": duration
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else None,
    }
    chapters = _chapters(info.get("chapters"))
    if chapters:
        metadata["chapters"] = chapters
    return metadata


def _chapters(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    chapters = []
    for chapter in value:
        if not isinstance(chapter, dict) or not isinstance(chapter.get("title"), str):
            continue
        start, end = chapter.get("start_time"), chapter.get("end_time")
        chapters.append(
            {
                "title": chapter["title"],
                "start_time": float(start) if isinstance(start, int | float) else None,
                "end_time": float(end) if isinstance(end, int | float) else None,
            }
        )
    return chapters
