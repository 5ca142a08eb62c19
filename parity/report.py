"""The parity report: each check's verdict and figures, as JSON, Markdown and one line.

A report never holds a secret: servers are named by URLs stripped of credentials.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Lists in the Markdown are cut to this many rows; the JSON keeps them whole.
MARKDOWN_ROWS = 25


@dataclass
class CheckResult:
    """One check. ``passed`` is None when it was skipped, and ``skipped`` says why."""

    name: str
    passed: bool | None
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def status(self) -> str:
        if self.passed is None:
            return "skip"
        return "pass" if self.passed else "fail"

    @classmethod
    def skip(cls, name: str, reason: str) -> CheckResult:
        return cls(name, None, f"skipped: {reason}", {}, reason)


@dataclass
class Side:
    """One of the two collections compared."""

    requested: str
    collection: str
    server: str
    version: str
    points: int
    model: str


@dataclass
class ParityReport:
    old: Side
    new: Side
    checks: list[CheckResult]
    parameters: dict[str, Any]
    started_at: str
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.failed_checks()

    def failed_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if check.passed is False]

    def check(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def verdict_line(self) -> str:
        """One line for logs and summaries; it says parity pass or parity fail."""
        skipped = [c.name for c in self.checks if c.passed is None]
        tail = f"; skipped: {', '.join(skipped)}" if skipped else ""
        versus = f"{self.new.collection} vs {self.old.collection}"
        if self.passed:
            ok = [c.name for c in self.checks if c.passed]
            return f"parity pass: {versus}; ok: {', '.join(ok)}{tail}"
        failed = "; ".join(f"{c.name} ({c.summary})" for c in self.failed_checks())
        return f"parity fail: {versus}; failed: {failed}{tail}"

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["passed"] = self.passed
        body["verdict"] = self.verdict_line()
        for check, data in zip(self.checks, body["checks"], strict=True):
            data["status"] = check.status
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)

    def to_markdown(self) -> str:
        lines = [
            f"# Parity: `{self.new.collection}` against `{self.old.collection}`",
            "",
            f"**{self.verdict_line()}**",
            "",
            "| | requested | collection | server | version | points | model |",
            "|---|---|---|---|---|---:|---|",
        ]
        for role, side in (("old", self.old), ("new", self.new)):
            lines.append(
                f"| {role} | `{side.requested}` | `{side.collection}` | {side.server} "
                f"| {side.version} | {side.points} | {side.model or 'unknown'} |"
            )
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in self.parameters.items()]
        lines += ["", "| check | status | summary |", "|---|---|---|"]
        lines += [
            f"| {c.name} | {c.status} | {_cell(c.summary)} |" for c in self.checks
        ]
        for check in self.checks:
            if check.figures:
                lines += ["", f"## {check.name}", ""]
                lines += _figures_markdown(check.figures)
        lines += ["", f"Started {self.started_at}, took {self.seconds:.1f} s.", ""]
        return "\n".join(lines)

    def table(self) -> list[dict[str, str]]:
        """One row per check, for a table artifact."""
        return [
            {"check": c.name, "status": c.status, "summary": c.summary}
            for c in self.checks
        ]

    def write(self, output_dir: str | Path) -> list[Path]:
        """Write ``<new collection>.json`` and ``.md`` under ``output_dir``."""
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", self.new.collection)
        paths = [folder / f"{stem}.json", folder / f"{stem}.md"]
        paths[0].write_text(self.to_json() + "\n", encoding="utf-8")
        paths[1].write_text(self.to_markdown(), encoding="utf-8")
        return paths


def _figures_markdown(figures: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, value in figures.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            columns = list(value[0])
            lines += ["", f"{name} ({len(value)}):", ""]
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in value[:MARKDOWN_ROWS]:
                lines.append(
                    "| " + " | ".join(_cell(row.get(c)) for c in columns) + " |"
                )
            if len(value) > MARKDOWN_ROWS:
                lines.append(f"| … {len(value) - MARKDOWN_ROWS} more in the JSON |")
            lines.append("")
        elif isinstance(value, list):
            shown = ", ".join(f"`{v}`" for v in value[:MARKDOWN_ROWS])
            more = (
                f" … {len(value) - MARKDOWN_ROWS} more"
                if len(value) > MARKDOWN_ROWS
                else ""
            )
            lines.append(f"- {name} ({len(value)}): {shown or 'none'}{more}")
        else:
            lines.append(f"- {name}: {_cell(value)}")
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")
