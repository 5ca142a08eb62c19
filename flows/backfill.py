"""The ``backfill`` flow: bring a chosen part of the sources up to date in place.

Unchanged documents (same content hash, model and chunker) are skipped, changed
ones replace their points, and documents that vanished from a source are deleted
only when ``prune`` is asked for, never because a file could not be read.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from qdrant_client import models

from flows.loading import load_documents, run_name
from pipeline.plan import Selection, scan
from pipeline.report import RunSummary, check_output_dir
from pipeline.runtime import runtime
from pipeline.work import delete_chunks_from, scroll
from qdrant_rebuild.errors import ConfigError, RebuildError, StoreError
from qdrant_store import collections


@flow(
    name="backfill",
    flow_run_name=run_name("backfill"),
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
    persist_result=False,
    validate_parameters=True,
)
def backfill(
    config: str = "default",
    sources: list[str] | None = None,
    since: str | None = None,
    ids: list[str] | None = None,
    paths: list[str] | None = None,
    prune: bool = False,
) -> dict[str, Any]:
    """Backfill the collection behind the alias from a selection of the sources.

    Args:
        config: A config profile (``default``, ``cortex``) or a path to a TOML file.
        sources: Source names to read; all configured sources when empty.
        since: Only documents modified (or uploaded) on or after this date.
        ids: Only these document ids.
        paths: Only documents whose path (relative to its source) matches a glob.
        prune: Delete documents of the selected sources that no longer exist.
    """
    selection = Selection.parse(sources, since, ids, paths)
    return backfill_into_alias(config, selection, prune)


def backfill_into_alias(
    config: str, selection: Selection, prune: bool
) -> dict[str, Any]:
    log = get_run_logger()
    started = time.monotonic()
    if prune and selection.partial:
        raise ConfigError(
            "--prune deletes documents missing from the sources, so it needs every "
            "document of the selected sources: drop --since, --ids and --paths"
        )

    # Settings, Qdrant and the model first; then refuse another model's collection.
    rt = runtime(config)
    settings = rt.settings
    check_output_dir(settings.run.output_dir)
    alias = settings.collection.alias
    collection = collections.resolve(rt.client, alias)
    if collection is None:
        raise ConfigError(
            f"alias {alias!r} points at no collection yet; run "
            "`qdrant-rebuild rebuild` first"
        )
    collections.check_same_model(
        rt.client, collection, rt.provenance, rt.embedder.info.dimension
    )
    refs = scan(settings, selection)
    log.info("backfill of %s: %d documents selected", collection, len(refs))
    if not refs:
        log.warning("the selection matched no documents (%s); nothing to do", selection)

    summary = RunSummary("backfill", collection, alias)
    summary.result = load_documents(
        config, collection, refs, fresh=False, label=f"backfill {collection}"
    )
    try:
        if prune:
            points, pruned = prune_vanished(rt, collection, selection, refs)
            summary.result.points_deleted += points
            summary.result.pruned += pruned
        if summary.result.failed:
            summary.status = "failed"
            documents = {d for f in summary.result.failed for d in f["documents"]}
            summary.message = (
                f"{len(documents)} documents could not be written; run the same "
                "command again to retry them"
            )
            raise StoreError(summary.message)
        collections.update_manifest(
            rt.client,
            collection,
            {"last_backfill_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        )
        summary.status = "completed"
    except RebuildError as exc:
        exc.summary = summary.as_dict()
        raise
    finally:
        if summary.status == "running":
            summary.status = "failed"
        summary.seconds = time.monotonic() - started
        summary.write(settings.run.output_dir)
        create_markdown_artifact(
            key="backfill-summary",
            markdown="```\n" + "\n".join(summary.lines()) + "\n```\n",
            description=f"backfill {summary.status}: {collection}",
        )
    return summary.as_dict()


def prune_vanished(
    rt: Any, collection: str, selection: Selection, refs: list[Any]
) -> tuple[int, int]:
    """Delete the points of documents the selected sources no longer have."""
    present = {(ref.source, ref.document_id) for ref in refs}
    deleted = pruned = 0
    for source in rt.settings.select_sources(list(selection.sources)):
        flt = models.Filter(
            must=[
                models.FieldCondition(
                    key="source", match=models.MatchValue(value=source.name)
                )
            ]
        )
        stored = {
            str((point.payload or {}).get("document_id"))
            for point in scroll(rt.client, collection, flt, ["document_id"])
        }
        for document_id in sorted(stored - {d for s, d in present if s == source.name}):
            n = delete_chunks_from(rt.client, collection, source.name, document_id, 0)
            get_run_logger().info(
                "pruned %s/%s (%d points)", source.name, document_id, n
            )
            deleted += n
            pruned += 1
    return deleted, pruned
