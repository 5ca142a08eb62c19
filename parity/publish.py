"""Publish a parity report to Prefect as a Markdown and a table artifact.

Only called inside a flow or task run; run_parity itself needs no Prefect.
"""

from __future__ import annotations

import re

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from parity.report import ParityReport


def artifact_key(collection: str) -> str:
    """Prefect artifact keys take lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", collection.lower()).strip("-") or "collection"


def publish_report(report: ParityReport) -> None:
    key = artifact_key(report.new.collection)
    description = report.verdict_line()
    create_markdown_artifact(
        key=f"parity-{key}", markdown=report.to_markdown(), description=description
    )
    create_table_artifact(
        key=f"parity-checks-{key}", table=report.table(), description=description
    )
