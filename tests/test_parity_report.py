"""The parity report's verdict, its renderings and its files."""

from __future__ import annotations

import json

from parity.report import CheckResult, ParityReport, Side


def report(*checks: CheckResult) -> ParityReport:
    return ParityReport(
        old=Side("school", "school", "http://old:6333", "1.7.4", 120, "m"),
        new=Side("knowledge", "knowledge__20261204T120000", "embedded", "x", 150, "m"),
        checks=list(checks),
        parameters={"seed": 7, "top_k": 10},
        started_at="2026-12-04T12:00:00+00:00",
        seconds=1.5,
    )


def test_a_skipped_check_does_not_fail_parity() -> None:
    result = report(
        CheckResult("counts", True, "fine"),
        CheckResult.skip("vectors", "no texts match"),
    )

    assert result.passed
    assert result.verdict_line() == (
        "parity pass: knowledge__20261204T120000 vs school; ok: counts; "
        "skipped: vectors"
    )


def test_a_failed_check_fails_parity_and_is_named_in_the_verdict() -> None:
    result = report(
        CheckResult("counts", True, "fine"),
        CheckResult("coverage", False, "1 old documents missing; missing: a.md"),
    )

    line = result.verdict_line()

    assert not result.passed
    assert [c.name for c in result.failed_checks()] == ["coverage"]
    assert line.startswith("parity fail:")
    assert "pass" not in line
    assert "a.md" in line


def test_report_writes_json_and_markdown_named_after_the_new_collection(
    tmp_path,
) -> None:
    result = report(
        CheckResult(
            "coverage", True, "ok", {"missing_documents": [], "rows": [{"a": 1}]}
        )
    )

    paths = result.write(tmp_path / "parity")
    body = json.loads(paths[0].read_text())
    markdown = paths[1].read_text()

    assert [p.name for p in paths] == [
        "knowledge__20261204T120000.json",
        "knowledge__20261204T120000.md",
    ]
    assert body["passed"] is True
    assert body["checks"][0]["status"] == "pass"
    assert body["old"]["version"] == "1.7.4"
    assert "| coverage | pass | ok |" in markdown
    assert "- missing_documents (0): none" in markdown
