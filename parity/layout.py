"""How an old collection's payloads map onto ours: field paths, text and document keys.

Old collections were filled by other tools (LangChain, LlamaIndex, scripts), so the
chunk text and the document key sit under other names and in other shapes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from config import ParitySettings

_MISSING = object()
_WHITESPACE = re.compile(r"\s+")
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_VIDEO_PATH = re.compile(r"/(?:embed|shorts|live|v)/([A-Za-z0-9_-]{11})")


def field_value(payload: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path``, or None.

    A key that itself holds dots is found before the path is split, and a string
    holding a JSON object is opened on the way (LlamaIndex keeps the node as a JSON
    string under ``_node_content``).
    """
    value = _lookup(payload, path)
    return None if value is _MISSING else value


def _lookup(value: Any, path: str) -> Any:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return _MISSING
    if not isinstance(value, dict):
        return _MISSING
    if path in value:
        return value[path]
    head, dot, rest = path.partition(".")
    if not dot or head not in value:
        return _MISSING
    return _lookup(value[head], rest)


def text_value(payload: dict[str, Any], path: str) -> str | None:
    """The chunk text at ``path``; a JSON node there gives its ``text``."""
    value = field_value(payload, path)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        inner = field_value({"node": value}, "node.text")
        if isinstance(inner, str):
            return inner
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return value if isinstance(value, str) else None


def normalise_text(text: str) -> str:
    """NFC form with runs of whitespace made one space: what "the same text" means."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(
        normalise_text(text).encode("utf-8"), digest_size=12
    ).digest()


def youtube_video_id(value: str) -> str:
    """The 11-character video id of a YouTube URL; other values come back as given."""
    value = value.strip()
    if _VIDEO_ID.match(value):
        return value
    parts = urlsplit(value)
    host = parts.netloc.lower().removeprefix("www.").removeprefix("m.")
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
        return candidate if _VIDEO_ID.match(candidate) else value
    if host.endswith("youtube.com") or host.endswith("youtube-nocookie.com"):
        ids = parse_qs(parts.query).get("v")
        if ids and _VIDEO_ID.match(ids[0]):
            return ids[0]
        match = _VIDEO_PATH.search(parts.path)
        if match:
            return match.group(1)
    return value


def path_parts(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.replace("\\", "/").split("/") if p not in ("", "."))


class PathTailMatcher:
    """Old file paths made comparable to our document ids (paths relative to a root).

    An old path takes the longest of our ids whose components end it. A path that
    matches none (a document we no longer have) loses the longest root seen on the
    matched paths, so that it is listed the way our ids are written.
    """

    def __init__(self, document_ids: Iterable[str]) -> None:
        self._ids: dict[tuple[str, ...], str] = {}
        self._by_name: dict[str, list[tuple[str, ...]]] = {}
        for document_id in document_ids:
            parts = path_parts(document_id)
            if parts:
                self._ids[parts] = document_id
                self._by_name.setdefault(parts[-1], []).append(parts)
        self._roots: dict[tuple[str, ...], int] = {}

    def __call__(self, value: str) -> str:
        parts = path_parts(value)
        if not parts:
            return value
        best: tuple[str, ...] | None = None
        for candidate in self._by_name.get(parts[-1], ()):
            fits = (
                len(candidate) <= len(parts) and parts[-len(candidate) :] == candidate
            )
            if fits and (best is None or len(candidate) > len(best)):
                best = candidate
        if best is not None:
            root = parts[: len(parts) - len(best)]
            self._roots[root] = self._roots.get(root, 0) + 1
            return self._ids[best]
        for root in sorted(self._roots, key=len, reverse=True):
            if root and parts[: len(root)] == root:
                return "/".join(parts[len(root) :])
        return "/".join(parts)


@dataclass(frozen=True)
class Layout:
    """Where the old collection keeps text, document key and source, and how to
    turn its document keys into ours."""

    text_field: str
    document_key_field: str
    source_field: str
    normaliser: str

    @classmethod
    def of_old(cls, settings: ParitySettings) -> Layout:
        return cls(
            settings.text_field,
            settings.document_key_field,
            settings.source_field,
            settings.document_key_normaliser,
        )

    @classmethod
    def ours(cls) -> Layout:
        """The payload our pipeline writes (see qdrant_store.points.payload)."""
        return cls("text", "document_id", "source", "none")

    def payload_roots(self, extra: Iterable[str] = ()) -> list[str]:
        """Top-level payload keys to ask the server for, so pages stay small."""
        paths = [self.text_field, self.document_key_field, self.source_field, *extra]
        return sorted({path.split(".")[0] for path in paths})

    def key_normaliser(self, new_document_ids: Iterable[str]) -> KeyNormaliser:
        if self.normaliser == "youtube_video_id":
            return KeyNormaliser(youtube_video_id)
        if self.normaliser == "path_tail":
            return KeyNormaliser(PathTailMatcher(new_document_ids))
        return KeyNormaliser(None)


class KeyNormaliser:
    """Old document keys (any JSON value) to strings comparable with our ids."""

    def __init__(self, function: Any) -> None:
        self._function = function
        self._known: dict[str, str] = {}

    @staticmethod
    def raw(value: Any) -> str | None:
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    def learn(self, raw_keys: Iterable[str]) -> dict[str, str]:
        """Normalise every key of a collection; returns raw key to our key.

        Runs twice over the keys so that a path matching none of our ids is cut at
        a root learned from all the others, whatever order they came in.
        """
        raw_keys = list(raw_keys)
        if self._function is not None:
            for value in raw_keys:
                self._function(value)
        self._known = {value: self._normalise(value) for value in raw_keys}
        return dict(self._known)

    def __call__(self, value: Any) -> str | None:
        raw = self.raw(value)
        return None if raw is None else self._normalise(raw)

    def _normalise(self, raw: str) -> str:
        if raw in self._known:
            return self._known[raw]
        return raw if self._function is None else str(self._function(raw))
