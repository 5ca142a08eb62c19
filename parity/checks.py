"""The parity checks: each turns figures of both collections into pass, fail or skip.

Thresholds come from ParitySettings. The checks compute; reading the collections
and embedding the queries happen in parity.run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from config import ParitySettings
from parity.report import CheckResult
from parity.survey import Survey

# A document in both collections whose text overlaps less than this (in either
# direction) is listed as changed. A figure only: other readers and chunkers move
# it a little, so it decides nothing.
CHANGED_BELOW = 0.9
WORST_QUERIES = 5
UNKNOWN_SOURCE = "(unknown)"


def counts(
    old_points: int, new_points: int, old: Survey, new: Survey, settings: ParitySettings
) -> CheckResult:
    """Exact point counts, and documents and points per source."""
    ratio = new_points / old_points if old_points else 0.0
    figures = {
        "old_points": old_points,
        "new_points": new_points,
        "ratio": round(ratio, 4),
        "min_count_ratio": settings.min_count_ratio,
        "old_unmapped_points": old.unmapped_points,
        "new_unmapped_points": new.unmapped_points,
        "per_source": _per_source(old, new),
    }
    if new_points == 0:
        return CheckResult("counts", False, "the new collection is empty", figures)
    passed = ratio >= settings.min_count_ratio
    sign = ">=" if passed else "<"
    summary = (
        f"new/old points {new_points}/{old_points} = {ratio:.2f} "
        f"({sign} {settings.min_count_ratio:.2f})"
    )
    return CheckResult("counts", passed, summary, figures)


def _per_source(old: Survey, new: Survey) -> list[dict[str, object]]:
    """Old documents without a source of their own count under the new one's."""
    rows: dict[str, Counter[str]] = {}
    for side, survey in (("old", old), ("new", new)):
        for key, doc in survey.documents.items():
            source = doc.source
            if source is None and side == "old" and key in new.documents:
                source = new.documents[key].source
            row = rows.setdefault(source or UNKNOWN_SOURCE, Counter())
            row[f"{side}_documents"] += 1
            row[f"{side}_points"] += doc.points
    return [
        {
            "source": name,
            "old_documents": row["old_documents"],
            "new_documents": row["new_documents"],
            "old_points": row["old_points"],
            "new_points": row["new_points"],
        }
        for name, row in sorted(rows.items())
    ]


def coverage(old: Survey, new: Survey, settings: ParitySettings) -> CheckResult:
    """Old documents missing from the new collection fail; new-only ones are listed."""
    old_keys, new_keys = set(old.documents), set(new.documents)
    missing = sorted(old_keys - new_keys)
    new_only = sorted(new_keys - old_keys)
    changed = []
    for key in sorted(old_keys & new_keys):
        before, after = old.documents[key].shingles, new.documents[key].shingles
        if not before or not after:
            continue
        old_in_new = len(before & after) / len(before)
        new_in_old = len(before & after) / len(after)
        if min(old_in_new, new_in_old) < CHANGED_BELOW:
            changed.append(
                {
                    "document": key,
                    "old_in_new": round(old_in_new, 3),
                    "new_in_old": round(new_in_old, 3),
                }
            )
    figures = {
        "old_documents": len(old_keys),
        "new_documents": len(new_keys),
        "in_both": len(old_keys & new_keys),
        "max_missing_documents": settings.max_missing_documents,
        "missing_documents": missing,
        "new_only_documents": new_only,
        "changed_below": CHANGED_BELOW,
        "changed_documents": changed,
    }
    passed = len(missing) <= settings.max_missing_documents
    summary = (
        f"{len(missing)} old documents missing (at most "
        f"{settings.max_missing_documents} allowed), {len(new_only)} new-only, "
        f"{len(changed)} changed"
    )
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        summary += f"; missing: {shown}"
    return CheckResult("coverage", passed, summary, figures)


@dataclass
class QueryOutcome:
    query: str
    old_documents: list[str]
    new_documents: list[str]

    @property
    def overlap(self) -> float:
        if not self.old_documents:
            return 1.0
        shared = set(self.old_documents) & set(self.new_documents)
        return len(shared) / len(self.old_documents)

    @property
    def top1_kept(self) -> bool:
        return not self.old_documents or self.old_documents[0] in self.new_documents


def retrieval(
    outcomes: Sequence[QueryOutcome], settings: ParitySettings, origin: str
) -> CheckResult:
    """Document-level agreement of the two collections' answers to the same queries."""
    if not outcomes:
        return CheckResult.skip("retrieval", "no queries")
    overlap = float(np.mean([o.overlap for o in outcomes]))
    top1 = float(np.mean([o.top1_kept for o in outcomes]))
    worst = sorted(outcomes, key=lambda o: (o.overlap, o.top1_kept))[:WORST_QUERIES]
    k = settings.top_k
    figures = {
        "queries": len(outcomes),
        "queries_from": origin,
        "top_k": k,
        "mean_overlap_at_k": round(overlap, 4),
        "min_overlap_at_k": settings.min_overlap_at_k,
        "top1_in_top_k": round(top1, 4),
        "min_top1_in_top_k": settings.min_top1_in_top_k,
        "worst_queries": [
            {
                "query": o.query[:80],
                "overlap": round(o.overlap, 3),
                "old_top": o.old_documents[0] if o.old_documents else "",
                "new_top": o.new_documents[0] if o.new_documents else "",
            }
            for o in worst
        ],
    }
    passed = overlap >= settings.min_overlap_at_k and top1 >= settings.min_top1_in_top_k
    summary = (
        f"mean document overlap@{k} {overlap:.2f} (min {settings.min_overlap_at_k}), "
        f"old top document in new top {k} for {top1:.0%} "
        f"(min {settings.min_top1_in_top_k:.0%}) of {len(outcomes)} queries"
    )
    return CheckResult("retrieval", passed, summary, figures)


def vectors(
    old_vectors: np.ndarray, new_vectors: np.ndarray, settings: ParitySettings
) -> CheckResult:
    """Cosine of old and new vectors of chunks with the same text."""
    if len(old_vectors) == 0:
        return CheckResult.skip(
            "vectors",
            "no old chunk has the text of a new chunk (other chunking), "
            "so no vectors can be paired",
        )
    old_unit = old_vectors / np.linalg.norm(old_vectors, axis=1, keepdims=True)
    new_unit = new_vectors / np.linalg.norm(new_vectors, axis=1, keepdims=True)
    cosines = np.sum(old_unit * new_unit, axis=1)
    p5 = float(np.percentile(cosines, 5))
    figures = {
        "pairs": len(cosines),
        "min": round(float(cosines.min()), 5),
        "p5": round(p5, 5),
        "median": round(float(np.median(cosines)), 5),
        "mean": round(float(cosines.mean()), 5),
        "min_vector_cosine": settings.min_vector_cosine,
    }
    passed = p5 >= settings.min_vector_cosine
    summary = (
        f"5th-percentile cosine {p5:.4f} over {len(cosines)} chunks with the same "
        f"text (min {settings.min_vector_cosine})"
    )
    return CheckResult("vectors", passed, summary, figures)


def payload_fields(old: Survey, new: Survey, settings: ParitySettings) -> CheckResult:
    """Every required payload field is present on every point of both collections."""
    required = settings.required_payload_fields
    if not required:
        return CheckResult.skip("payload_fields", "no required_payload_fields set")
    rows = [
        {
            "field": name,
            "old_points_without": old.missing_fields.get(name, 0),
            "new_points_without": new.missing_fields.get(name, 0),
        }
        for name in required
    ]
    lacking = [
        f"{row['field']} ({side})"
        for row in rows
        for side in ("old", "new")
        if row[f"{side}_points_without"]
    ]
    summary = (
        f"lacking: {', '.join(lacking)}"
        if lacking
        else f"{', '.join(required)} on every point of both"
    )
    return CheckResult("payload_fields", not lacking, summary, {"fields": rows})
