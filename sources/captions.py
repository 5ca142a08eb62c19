"""Caption files to spoken lines: WebVTT, SubRip and youtube-transcript-api JSON.

Every format ends in the same cleaning of a line (tags, entities, sound tags), so
one speech read from any of them gives the same text.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import TypeGuard

from sources.base import Segment
from sources.text import clean_characters, collapse_spaces, strip_markup

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,:](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?$")
_INLINE_TIMESTAMP = re.compile(r"<\d{1,2}:\d{2}(?::\d{2})?\.\d{3}>")
_SKIPPED_BLOCK = re.compile(r"^(?:NOTE|STYLE|REGION)(?:\s|$)")

# Sound and action tags such as [Music], [Applause], [MUSIC PLAYING], [Музыка]:
# letters, spaces, apostrophes and hyphens between square brackets. They are
# dropped in every format, because they say nothing a query looks for and a chunk
# of "[Music]" would match every query about music.
_SOUND_TAG = re.compile(r"\[(?:[^\W\d_]|[\s'’-])+\]")


@dataclass(frozen=True)
class Cue:
    """One timed caption as written in the file, its lines not yet cleaned."""

    start: float
    end: float
    lines: tuple[str, ...]
    line_number: int


def clean_line(text: str) -> str:
    """A caption line as it is indexed: no tags, entities, sound tags or extra space."""
    text = clean_characters(strip_markup(text))
    return collapse_spaces(_SOUND_TAG.sub(" ", text))


def parse_cues(text: str) -> tuple[list[Cue], list[str]]:
    """Cues of a WebVTT or SubRip text, and warnings about what was skipped.

    One parser reads both: a line with ``-->`` starts a cue (as the WebVTT parser
    of browsers does, so a cue that follows text without a blank line is not
    lost); NOTE, STYLE and REGION blocks and the WebVTT header are skipped. A line
    of digits right before a timing line is a SubRip index even without a blank
    line before it.
    """
    lines = text.lstrip("\ufeff").splitlines()
    cues: list[Cue] = []
    current: list[str] | None = None
    timing: tuple[float, float, int] = (0.0, 0.0, 0)
    # True inside the WebVTT header and NOTE/STYLE/REGION blocks, and after a timing
    # line that could not be read: lines are skipped up to the next empty line.
    skipping = bool(lines) and lines[0].startswith("WEBVTT")
    stray: list[int] = []
    unreadable: list[int] = []

    def close() -> None:
        if current is not None:
            cues.append(Cue(timing[0], timing[1], tuple(current), timing[2]))

    for number, line in enumerate(lines, start=1):
        if "-->" in line:
            if current and current[-1].strip().isdigit():
                current.pop()
            close()
            match = _TIMING.match(line)
            if match is None:
                unreadable.append(number)
                current, skipping = None, True
                continue
            groups = match.groups()
            timing = (_seconds(groups[:4]), _seconds(groups[4:]), number)
            current, skipping = [], False
        elif line == "" or (current is None and not line.strip()):
            close()
            current, skipping = None, False
        elif skipping:
            continue
        elif current is not None:
            current.append(line)
        elif _SKIPPED_BLOCK.match(line):
            skipping = True
        elif not _next_is_timing(lines, number):
            stray.append(number)
    close()

    warnings = []
    if stray:
        warnings.append(
            f"{len(stray)} line(s) outside any cue ignored, first on line {stray[0]}"
        )
    if unreadable:
        warnings.append(
            f"{len(unreadable)} cue timing line(s) could not be read, first on line "
            f"{unreadable[0]}; those cues skipped"
        )
    return cues, warnings


def parse_transcript_json(text: str) -> tuple[list[Cue], list[str]]:
    """Entries of a youtube-transcript-api JSON list as cues, and warnings.

    Raises ValueError when the text is not such a list; an entry without a
    numeric start is skipped with a warning. The API's durations are display
    times that overlap the next entry, so an end is cut at the next start.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("snippets"), list):
        data = data["snippets"]
    if not isinstance(data, list):
        raise ValueError(
            "not a youtube-transcript-api transcript: expected a JSON list of "
            "{text, start, duration}"
        )
    entries: list[tuple[float, float, str]] = []
    skipped: list[int] = []
    for number, item in enumerate(data, start=1):
        start = item.get("start") if isinstance(item, dict) else None
        if not _is_number(start):
            skipped.append(number)
            continue
        duration, words = item.get("duration"), item.get("text")
        length = float(duration) if _is_number(duration) else 0.0
        entries.append(
            (float(start), max(length, 0.0), words if isinstance(words, str) else "")
        )
    cues = []
    for index, (start_at, length, words) in enumerate(entries):
        end = start_at + length
        later = [s for s, _, _ in entries[index + 1 :] if s > start_at]
        if later:
            end = min(end, later[0])
        cues.append(Cue(start_at, end, (words.replace("\n", " "),), index + 1))
    warnings = []
    if skipped:
        warnings.append(
            f"{len(skipped)} entry(ies) without a numeric start skipped, "
            f"first at entry {skipped[0]}"
        )
    return cues, warnings


def cue_warnings(cues: list[Cue]) -> list[str]:
    """Overlapping, zero-length and inverted cues: kept, but said."""
    overlaps, zero, inverted = [], [], []
    previous_end: float | None = None
    for cue in cues:
        if previous_end is not None and cue.start < previous_end - 0.0005:
            overlaps.append(cue.start)
        if cue.end == cue.start:
            zero.append(cue.start)
        elif cue.end < cue.start:
            inverted.append(cue.start)
        previous_end = max(cue.start, cue.end)
    warnings = []
    if overlaps:
        warnings.append(
            f"{len(overlaps)} cue(s) overlap the cue before, first at "
            f"{overlaps[0]:.3f} s; kept"
        )
    if zero:
        warnings.append(
            f"{len(zero)} zero-length cue(s), first at {zero[0]:.3f} s; kept"
        )
    if inverted:
        warnings.append(
            f"{len(inverted)} cue(s) end before they start, first at "
            f"{inverted[0]:.3f} s; kept with the end set to the start"
        )
    return warnings


def spoken_segments(cues: list[Cue]) -> list[Segment]:
    """Segments of cleaned text: one per spoken line of a rolling track, else per cue.

    YouTube's automatic captions roll: a line is built word by word with inline
    timestamps, shown alone for about 10 ms, then carried as the top line of the
    next cue. In such a track a cue's first line that repeats the previous cue's
    last line is the carried copy and is dropped; everything else is new speech,
    so a line said twice in a row ("okay" / "okay") is still kept twice. Other
    tracks give one segment per cue, its lines joined by spaces.
    """
    cleaned = [
        (cue, lines)
        for cue in cues
        if (lines := [c for c in (clean_line(raw) for raw in cue.lines) if c])
    ]
    if not _rolls(cues, [lines for _, lines in cleaned]):
        return [
            Segment(" ".join(lines), cue.start, max(cue.start, cue.end))
            for cue, lines in cleaned
        ]
    segments: list[Segment] = []
    previous_last: str | None = None
    for cue, lines in cleaned:
        new = lines[1:] if lines[0] == previous_last else lines
        segments.extend(
            Segment(line, cue.start, max(cue.start, cue.end)) for line in new
        )
        previous_last = lines[-1]
    return segments


def _rolls(cues: list[Cue], cleaned: list[list[str]]) -> bool:
    if any(_INLINE_TIMESTAMP.search(line) for cue in cues for line in cue.lines):
        return True
    # A converted track (SubRip) has lost its inline timestamps but still repeats.
    carried = sum(
        1 for before, after in itertools.pairwise(cleaned) if after[0] == before[-1]
    )
    return carried >= 2 and carried * 2 >= len(cleaned) - 1


def _seconds(parts: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, fraction = parts
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return total + int((fraction or "0").ljust(3, "0")) / 1000


def _next_is_timing(lines: list[str], number: int) -> bool:
    # ``number`` is 1-based, so lines[number] is the line after it.
    return number < len(lines) and bool(_TIMING.match(lines[number]))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
