"""What a run will do: its provenance, the documents it selects, its work units."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import Settings
from embedders import ModelInfo
from qdrant_rebuild import __version__
from qdrant_rebuild.errors import ConfigError
from sources import open_source
from sources.base import DocumentRef


def provenance(settings: Settings, model: ModelInfo, max_tokens: int) -> dict[str, Any]:
    """What filled a collection: model, chunker and pipeline version.

    The fingerprint hashes all of it except the pipeline's patch version, so a
    rerun with the same settings recognises its own points as current.
    """
    chunking = {
        "max_tokens": max_tokens,
        "overlap_tokens": settings.chunking.overlap_tokens,
    }
    recorded = {
        "model": model.as_payload(),
        "chunking": chunking,
        "distance": settings.collection.distance,
        "pipeline": "qdrant-rebuild",
        "pipeline_version": __version__,
    }
    basis = {
        "model": [model.name, model.revision, model.dimension, model.normalized],
        "chunking": chunking,
        "layout": 1,
    }
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()
    return {**recorded, "fingerprint": digest[:16]}


@dataclass(frozen=True)
class Selection:
    """Which documents of the configured sources a run takes (all when empty)."""

    sources: tuple[str, ...] = ()
    since: datetime | None = None
    ids: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        sources: Iterable[str] | None = None,
        since: str | None = None,
        ids: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
    ) -> Selection:
        when = None
        if since:
            try:
                when = datetime.fromisoformat(since)
            except ValueError as exc:
                raise ConfigError(
                    f"--since {since!r} is not a date: use YYYY-MM-DD or an ISO time"
                ) from exc
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        return cls(tuple(sources or ()), when, tuple(ids or ()), tuple(paths or ()))

    @property
    def partial(self) -> bool:
        """True when documents of the selected sources may be left out."""
        return bool(self.since or self.ids or self.paths)

    def admits(self, ref: DocumentRef, root: Path) -> bool:
        if self.since is not None and ref.modified < self.since.timestamp():
            return False
        if self.ids and ref.document_id not in self.ids:
            return False
        if self.paths:
            relative = [_relative(p, root) for p in ref.paths]
            if not any(
                fnmatch.fnmatch(path, pattern)
                for path in relative
                for pattern in self.paths
            ):
                return False
        return True


def scan(settings: Settings, selection: Selection) -> list[DocumentRef]:
    """Every selected document of the selected sources, in a stable order."""
    refs: list[DocumentRef] = []
    for source_settings in settings.select_sources(list(selection.sources)):
        source = open_source(source_settings)
        root = source_settings.path
        refs.extend(ref for ref in source.scan() if selection.admits(ref, root))
    return refs


def work_units(refs: list[DocumentRef], max_bytes: int) -> list[list[DocumentRef]]:
    """Consecutive groups of documents of about ``max_bytes`` of input each."""
    units: list[list[DocumentRef]] = []
    unit: list[DocumentRef] = []
    size = 0
    for ref in refs:
        ref_bytes = sum(_size(p) for p in ref.paths)
        if unit and size + ref_bytes > max_bytes:
            units.append(unit)
            unit, size = [], 0
        unit.append(ref)
        size += ref_bytes
    if unit:
        units.append(unit)
    return units


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()
