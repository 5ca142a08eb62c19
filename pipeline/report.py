"""The summary of a run: counts, rejects and timing, on disk and as text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.work import UnitResult
from qdrant_rebuild.errors import ConfigError


@dataclass
class RunSummary:
    """What a rebuild or backfill did, in the terms its user thinks in."""

    kind: str
    collection: str
    alias: str
    status: str = "running"
    result: UnitResult = field(default_factory=UnitResult)
    seconds: float = 0.0
    alias_switched: bool = False
    previous_target: str | None = None
    resumed: bool = False
    parity: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def points_per_second(self) -> float:
        return self.result.points_written / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "kind": self.kind,
            "status": self.status,
            "message": self.message,
            "collection": self.collection,
            "alias": self.alias,
            "alias_switched": self.alias_switched,
            "previous_target": self.previous_target,
            "resumed": self.resumed,
            "documents_read": r.documents,
            "documents_skipped": r.skipped,
            "documents_added": r.added,
            "documents_updated": r.updated,
            "documents_empty": r.empty,
            "documents_deleted": r.pruned,
            "documents_rejected": len([x for x in r.rejected if "chunk" not in x]),
            "chunks_rejected": len([x for x in r.rejected if "chunk" in x]),
            "documents_failed": sorted({d for f in r.failed for d in f["documents"]}),
            "chunks": r.chunks,
            "points_written": r.points_written,
            "points_deleted": r.points_deleted,
            "points_expected": r.points_expected,
            "seconds": round(self.seconds, 2),
            "embed_seconds": round(r.embed_seconds, 2),
            "points_per_second": round(self.points_per_second, 1),
            "parity": self.parity,
            "failed_checks": self.failed_checks,
            "rejected": r.rejected,
            "warnings": r.warnings,
        }

    def write(self, output_dir: Path) -> Path:
        """Write ``<kind>-summary.json`` and rejects.jsonl into the run's own folder."""
        folder = output_dir / _safe(self.collection)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "rejects.jsonl").open("w", encoding="utf-8") as out:
            for reject in self.result.rejected:
                out.write(json.dumps(reject, ensure_ascii=False) + "\n")
        path = folder / f"{self.kind}-summary.json"
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
        return folder

    def lines(self) -> list[str]:
        return summary_lines(self.as_dict())


def summary_lines(d: dict[str, Any]) -> list[str]:
    """The summary a person reads at the end of a run."""
    head = f"{d['kind']} {d['status']}"
    switched = d["alias_switched"]
    out = [
        f"{head}: {d['message']}" if d["message"] else head,
        f"  collection        {d['collection']}"
        + (" (resumed)" if d["resumed"] else ""),
        f"  alias             {d['alias']}"
        + (f" -> {d['collection']}" if switched else " (not moved)"),
        f"  documents read    {d['documents_read']}  (added {d['documents_added']}, "
        f"updated {d['documents_updated']}, skipped {d['documents_skipped']}, "
        f"deleted {d['documents_deleted']}, empty {d['documents_empty']}, "
        f"rejected {d['documents_rejected']})",
        f"  chunks            {d['chunks']}",
        f"  points written    {d['points_written']}  (deleted {d['points_deleted']})",
        f"  seconds           {d['seconds']}  ({d['points_per_second']} points/s)",
    ]
    if d["parity"]:
        out.append(f"  {d['parity']}")
    rejected = d["rejected"]
    for reject in rejected[:20]:
        out.append(f"  rejected {reject['path']}: {reject['reason']}")
    if len(rejected) > 20:
        out.append(f"  ... and {len(rejected) - 20} more in rejects.jsonl")
    for failed in d["documents_failed"][:20]:
        out.append(f"  not written {failed}")
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def check_output_dir(folder: Path) -> None:
    """Fail before any write when the run's reports could not be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"run.output_dir {folder} is not a writable folder ({exc.strerror}); "
            "point it somewhere writable"
        ) from exc
