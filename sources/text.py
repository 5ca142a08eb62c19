"""Bytes to clean text: binary detection, decoding with a stated fallback, cleaning.

Shared by every reader, so a character is treated the same in a caption, a note
and a web page.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from dataclasses import dataclass, field

# Magic numbers of files that end up in note folders under a text name.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"RIFF", "RIFF media"),
    (b"\x00\x00\x00\x18ftyp", "MP4 media"),
    (b"\x00\x00\x00\x20ftyp", "MP4 media"),
    (b"SQLite format 3\x00", "SQLite database"),
)

# The fallback for bytes that are not UTF-8: Windows-1252 is what such files are
# in practice (and what browsers read "iso-8859-1" as); latin-1 only takes the five
# bytes cp1252 leaves undefined, since it cannot fail.
FALLBACK_ENCODING = "cp1252"

_UTF16_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))

# Characters that change how text looks but not what it says.
_REMOVED = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f"), " ")
_LIGATURES = {
    0xFB00: "ff",
    0xFB01: "fi",
    0xFB02: "fl",
    0xFB03: "ffi",
    0xFB04: "ffl",
    0xFB05: "st",
    0xFB06: "st",
}
# Full-width ASCII (U+FF01-FF5E) is the same character as ASCII for search.
_FULL_WIDTH = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_TRANSLATION = {**_REMOVED, **_SPACES, **_LIGATURES, **_FULL_WIDTH}

_TAG = re.compile(r"<\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,3}>|</?[A-Za-z][^<>]*>")
_RUN_OF_SPACE = re.compile(r"\s+")


@dataclass
class Decoded:
    """Text of a file and how it was read."""

    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def binary_kind(data: bytes) -> str | None:
    """What binary content ``data`` is (e.g. "PNG image"), or None for text."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if any(data.startswith(bom) for bom, _ in _UTF16_BOMS):
        return None
    if b"\x00" in data[:8192]:
        return "NUL bytes"
    return None


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """Decode ``data``: UTF-8 (BOM or not), UTF-16 with a BOM, else a fallback.

    ``declared`` is a charset the file names itself (an HTML meta tag). Valid UTF-8
    wins over it, because pages are far more often saved as UTF-8 under a stale
    declaration than the other way round; it is used only when UTF-8 fails.
    Raises ValueError for binary content.
    """
    kind = binary_kind(data)
    if kind is not None:
        raise ValueError(f"binary content ({kind}), not text")
    for bom, codec in _UTF16_BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(codec, errors="replace"), codec)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        failure = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
    else:
        decoded = Decoded(text, "utf-8")
        if declared and _codec_name(declared) not in ("utf-8", None):
            decoded.warnings.append(
                f"declares charset {declared} but the bytes are valid UTF-8; "
                "read as UTF-8"
            )
        return decoded
    named = _codec_name(declared) if declared else None
    # A latin-1 or ASCII label is read as cp1252, as browsers do.
    usable = named and named not in ("utf-8", "iso8859-1", "ascii")
    codec = named if named and usable else FALLBACK_ENCODING
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        codec = "latin-1"
    return Decoded(text, codec, [f"not valid UTF-8 ({failure}); decoded as {codec}"])


def clean_characters(text: str) -> str:
    """Remove invisible characters, unify spaces, ligatures and full-width ASCII; NFC.

    Zero-width spaces and soft hyphens go (they only split words for a tokenizer);
    non-breaking spaces become spaces. Line structure is kept.
    """
    return unicodedata.normalize("NFC", text.translate(_TRANSLATION))


def collapse_spaces(text: str) -> str:
    """Every run of whitespace, newlines included, as one space; no ends."""
    return _RUN_OF_SPACE.sub(" ", text).strip()


def strip_markup(text: str) -> str:
    """Drop inline tags and decode entities, again while that changes the text.

    Captions come back double-encoded (``&amp;amp;``, ``&lt;i&gt;``): decoding once
    would leave ``&amp;`` or a literal ``<i>`` in the index. A ``<`` not followed by
    a letter (``$5 < $10``) is text, not a tag.
    """
    for _ in range(4):
        cleaned = html.unescape(_TAG.sub("", text))
        if cleaned == text:
            break
        text = cleaned
    return text


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
