"""The ``rebuild`` flow: a fresh collection from all sources, parity, then the alias.

A rebuild never touches the collection consumers query until the new one is
complete, counted, and (when an old collection is configured) has passed parity.
A rebuild that dies is continued by running the same command again.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from qdrant_client import models

from config import Settings
from flows.backfill import backfill_into_alias, prune_vanished
from flows.loading import load_documents, run_name
from pipeline.plan import Selection, scan
from pipeline.report import RunSummary, check_output_dir
from pipeline.runtime import runtime
from qdrant_rebuild.errors import (
    ConfigError,
    ParityFailed,
    RebuildError,
    RejectRateExceeded,
    StoreError,
    SwitchRefused,
)
from qdrant_store import collections


@flow(
    name="rebuild",
    flow_run_name=run_name("rebuild"),
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
    persist_result=False,
    validate_parameters=True,
)
def rebuild(
    config: str = "default",
    sources: list[str] | None = None,
    incremental: bool = False,
    force_switch: bool = False,
) -> dict[str, Any]:
    """Rebuild the alias's collection from the sources.

    Args:
        config: A config profile (``default``, ``cortex``) or a path to a TOML file.
        sources: Source names to read; all configured sources when empty.
        incremental: Backfill the alias's current collection instead of
            building a new one (what the nightly schedule does).
        force_switch: Move the alias even when parity fails or only some
            sources were read.
    """
    if incremental:
        return backfill_into_alias(config, Selection.parse(sources), prune=False)
    log = get_run_logger()
    started = time.monotonic()

    # Settings, Qdrant and the model first: a mistake stops here, before any write.
    rt = runtime(config)
    settings = rt.settings
    selection = Selection.parse(sources)
    check_output_dir(settings.run.output_dir)
    alias = settings.collection.alias
    if alias in collections.collection_names(rt.client):
        raise ConfigError(
            f"collection.alias {alias!r} is the name of a collection, not an alias, "
            "so it could never be switched; choose another alias"
        )
    refs = scan(settings, selection)
    log.info(
        "found %d documents in %d sources",
        len(refs),
        len(settings.select_sources(list(selection.sources))),
    )

    # A collection of ours left half-built by a run like this one is continued.
    collection = collections.find_unfinished(rt.client, alias, rt.fingerprint)
    resumed = collection is not None
    if collection is None:
        collection = collections.versioned_name(alias)
        collections.create(
            rt.client,
            collection,
            dimension=rt.embedder.info.dimension,
            distance=settings.collection.distance,
            provenance=rt.provenance,
            # The embedded Qdrant has no payload indexes (it scans); only a server.
            payload_indexes=(
                () if settings.qdrant.embedded else settings.collection.payload_indexes
            ),
            on_disk_vectors=settings.collection.on_disk_vectors,
        )
    else:
        log.info("continuing the unfinished rebuild in %s", collection)
    summary = RunSummary("rebuild", collection, alias, resumed=resumed)

    # The heavy part: read, chunk, embed and upsert, unit by unit.
    summary.result = load_documents(
        config, collection, refs, fresh=not resumed, label=f"rebuild {collection}"
    )
    summary.seconds = time.monotonic() - started

    try:
        partial = _partial(settings, selection)
        if resumed:
            # Documents gone from the sources since the run that died.
            points, pruned = prune_vanished(rt, collection, selection, refs)
            summary.result.points_deleted += points
            summary.result.pruned += pruned
        _check_load(
            rt.client,
            collection,
            summary,
            settings.run.max_reject_ratio,
            only=partial,
        )
        collections.mark_complete(
            rt.client,
            collection,
            {
                "documents": summary.result.documents,
                "points": summary.result.points_expected,
            },
        )
        _gate(config, collection, summary, force_switch)
        _check_complete(settings, partial, summary, force_switch)
        summary.previous_target = collections.switch_alias(rt.client, alias, collection)
        summary.alias_switched = True
        summary.status = "completed"
    except RebuildError as exc:
        exc.summary = summary.as_dict()
        raise
    finally:
        if summary.status == "running":
            summary.status = "failed"
        summary.seconds = time.monotonic() - started
        folder = summary.write(settings.run.output_dir)
        _publish(summary)
        log.info("summary written to %s", folder)
    return summary.as_dict()


def _check_load(
    client: Any,
    collection: str,
    summary: RunSummary,
    max_reject_ratio: float,
    only: list[str] | None = None,
) -> None:
    """Every document written, the exact count right, and few enough rejects.

    ``only`` names the sources this run read when it read only some: the count is
    then of theirs, since a continued collection may hold others' points too.
    """
    result = summary.result
    if result.failed:
        documents = sorted({d for f in result.failed for d in f["documents"]})
        summary.status = "failed"
        summary.message = (
            f"{len(documents)} documents could not be written "
            f"({result.failed[0]['reason']}); run the same command again to retry them"
        )
        raise StoreError(summary.message)
    actual = collections.count(
        client,
        collection,
        models.Filter(
            must=[models.FieldCondition(key="source", match=models.MatchAny(any=only))]
        )
        if only
        else None,
    )
    if actual != result.points_expected:
        summary.status = "failed"
        summary.message = (
            f"{collection} holds {actual} points where {result.points_expected} "
            "were expected; run the same command again to repair it"
        )
        raise StoreError(summary.message)
    rejected = len([r for r in result.rejected if "chunk" not in r])
    if result.documents and rejected / result.documents > max_reject_ratio:
        summary.status = "failed"
        summary.message = (
            f"{rejected} of {result.documents} documents were rejected, over the "
            f"{max_reject_ratio:.0%} allowed (run.max_reject_ratio); the good ones are "
            f"in {collection}, the alias was not moved; see rejects.jsonl"
        )
        raise RejectRateExceeded(summary.message)


def _partial(settings: Settings, selection: Selection) -> list[str] | None:
    """The sources this run reads, when they are not all the configured ones."""
    chosen = [s.name for s in settings.select_sources(list(selection.sources))]
    return chosen if len(chosen) < len(settings.sources) else None


def _check_complete(
    settings: Settings,
    partial: list[str] | None,
    summary: RunSummary,
    force_switch: bool,
) -> None:
    """An empty build or one of only some sources never takes the alias by itself."""
    if summary.result.points_expected == 0:
        summary.status = "refused"
        summary.message = (
            f"no points were written (documents read: {summary.result.documents}); "
            "check the source folders; the alias stays where it was"
        )
        raise SwitchRefused(summary.message)
    if not partial:
        return
    missing = sorted({s.name for s in settings.sources} - set(partial))
    if force_switch:
        get_run_logger().warning(
            "--force-switch: the alias moves to %s, which holds only %s (not %s)",
            summary.collection,
            ", ".join(partial),
            ", ".join(missing),
        )
    else:
        summary.status = "refused"
        summary.message = (
            f"this rebuild read only some sources (not {', '.join(missing)}), so "
            f"{summary.collection} is kept but the alias stays where it was; "
            "--force-switch overrides"
        )
        raise SwitchRefused(summary.message)


def _gate(
    config: str, collection: str, summary: RunSummary, force_switch: bool
) -> None:
    """Parity against the old collection decides whether the alias may move."""
    rt = runtime(config)
    if not rt.settings.parity.old_collection:
        return
    from parity import run_parity
    from parity.publish import publish_report

    report = run_parity(rt.settings, new_collection=collection, new_client=rt.client)
    report.write(rt.settings.run.output_dir / collection / "parity")
    publish_report(report)
    summary.parity = report.verdict_line()
    summary.failed_checks = [check.name for check in report.failed_checks()]
    get_run_logger().info(summary.parity)
    if report.passed:
        return
    if force_switch:
        get_run_logger().warning(
            "parity failed (%s) but --force-switch moves the alias anyway",
            ", ".join(summary.failed_checks),
        )
        return
    summary.status = "refused"
    summary.message = (
        f"parity failed ({', '.join(summary.failed_checks)}); {collection} is kept, "
        f"the alias stays where it was; --force-switch overrides"
    )
    raise ParityFailed(summary.message)


def _publish(summary: RunSummary) -> None:
    lines = "\n".join(summary.lines())
    create_markdown_artifact(
        key=f"{summary.kind}-summary",
        markdown=f"# {summary.kind} of `{summary.alias}`\n\n```\n{lines}\n```\n",
        description=f"{summary.kind} {summary.status}: {summary.collection}",
    )
