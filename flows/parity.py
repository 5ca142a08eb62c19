"""The ``parity`` flow: compare a collection with the old one, report, fail on a miss.

The rebuild flow runs the same comparison as its gate through run_parity; this
flow is for running it on its own, e.g. after a manual import or a backfill.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from config import load_settings
from flows.loading import run_name
from parity import run_parity
from parity.publish import publish_report
from qdrant_rebuild.errors import ParityFailed


@flow(
    name="parity",
    flow_run_name=run_name("parity"),
    persist_result=False,
    validate_parameters=True,
)
def parity_flow(config: str = "default", new: str | None = None) -> dict[str, Any]:
    """Compare ``new`` (default: the alias) with ``[parity] old_collection``.

    Args:
        config: A config profile (``default``, ``cortex``) or a path to a TOML file.
        new: The collection or alias to check; the configured alias when empty.
    """
    log = get_run_logger()
    settings = load_settings(config)
    target = new or settings.collection.alias

    report = run_parity(settings, new_collection=target)
    paths = report.write(settings.run.output_dir / "parity")
    publish_report(report)
    log.info("%s", report.verdict_line())
    log.info("parity report written to %s", ", ".join(str(p) for p in paths))

    if not report.passed:
        failed = "; ".join(f"{c.name}: {c.summary}" for c in report.failed_checks())
        raise ParityFailed(
            f"parity of {report.new.collection} against {report.old.collection} "
            f"failed ({failed}); see {paths[1]}"
        )
    return {
        "passed": report.passed,
        "verdict": report.verdict_line(),
        "new_collection": report.new.collection,
        "old_collection": report.old.collection,
        "checks": {check.name: check.status for check in report.checks},
        "report": [str(path) for path in paths],
    }
