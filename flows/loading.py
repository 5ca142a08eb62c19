"""The task that does the heavy work, and the loop that feeds it work units.

A task receives a config name, a collection name and a list of document
references: paths and ids, never texts or vectors. It reads, chunks, embeds and
upserts inside itself, batch by batch, and returns counts.
"""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from config import load_settings
from pipeline import progress as progress_module
from pipeline import stopping
from pipeline.plan import work_units
from pipeline.progress import Progress
from pipeline.runtime import runtime
from pipeline.work import UnitResult, process_unit
from qdrant_rebuild.errors import ConfigError
from sources.base import DocumentRef


@task(
    name="embed-and-upsert",
    task_run_name="embed-and-upsert-{number}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def embed_and_upsert(
    config: str, collection: str, refs: list[DocumentRef], fresh: bool, number: int
) -> UnitResult:
    """Bring one work unit's documents up to date in ``collection``."""
    rt = runtime(config)
    result = process_unit(
        rt.settings,
        rt.client,
        collection,
        refs,
        rt.embedder,
        rt.chunker,
        rt.fingerprint,
        fresh=fresh,
    )
    get_run_logger().info(
        "unit %d: %d documents (%d skipped, %d rejected), %d chunks, "
        "%d points written in %.1f s of encoding",
        number,
        result.documents,
        result.skipped,
        len(result.rejected),
        result.chunks,
        result.points_written,
        result.embed_seconds,
    )
    return result


def load_documents(
    config: str, collection: str, refs: list[DocumentRef], fresh: bool, label: str
) -> UnitResult:
    """Run every work unit of ``refs`` and add up their results.

    Units are submitted to the flow's task runner: with the default thread pool
    of two, one unit is read and chunked while the previous one is on the model;
    a Dask or Ray task runner spreads them over workers instead.
    """
    rt = runtime(config)
    units = work_units(refs, rt.settings.run.task_bytes)
    progress = Progress(
        len(refs),
        label,
        log_every=rt.settings.run.progress_log_seconds,
        log=get_run_logger(),
    )
    progress_module.set_current(progress)
    total = UnitResult()
    stopping.reset()
    try:
        futures = [
            embed_and_upsert.submit(config, collection, unit, fresh, number)
            for number, unit in enumerate(units, start=1)
        ]
        for future in futures:
            total.merge(_result(future))
    except BaseException:
        # Ctrl-C, a cancelled run or a failed unit: the units still running end
        # before their next group instead of finishing their whole unit.
        stopping.request()
        raise
    finally:
        progress.close()
        progress_module.set_current(None)
    return total


def _result(future: PrefectFuture[UnitResult]) -> UnitResult:
    """The unit's result, waiting in short steps.

    A wait without a timeout holds off Ctrl-C until the unit ends; short waits let
    the main thread see the signal within a second.
    """
    wrapped = getattr(future, "wrapped_future", None)
    if isinstance(wrapped, concurrent.futures.Future):
        while not wrapped.done():
            concurrent.futures.wait([wrapped], timeout=1.0)
    return future.result()


def run_name(kind: str) -> Any:
    """A readable flow run name: ``<kind>-<alias>-<UTC date and time>``."""

    def name() -> str:
        config = flow_run.get_parameters().get("config", "default")
        try:
            alias = load_settings(config).collection.alias
        except ConfigError:
            alias = str(config)
        return f"{kind}-{alias}-{datetime.now(UTC):%Y%m%d-%H%M%S}"

    return name
