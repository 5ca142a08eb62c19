"""Parity: compare a new collection with the one it replaces, before the alias moves.

legacy.py   read-only, version-aware readers of a Qdrant store (embedded, REST)
layout.py   where an old collection keeps text and document keys; normalisers
survey.py   one pass over each collection's payloads
checks.py   counts, coverage, retrieval, vectors, payload fields
report.py   the report: JSON, Markdown, one verdict line
run.py      run_parity, which ties them together
parquet.py  export and import of a collection as a Parquet file
"""

from parity.report import CheckResult, ParityReport, Side
from parity.run import run_parity

__all__ = ["CheckResult", "ParityReport", "Side", "run_parity"]
