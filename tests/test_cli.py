"""The command line's answers to mistakes: one line on stderr, a non-zero exit, and
nothing slow (the model, Prefect) started first."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import embedders
from qdrant_rebuild.cli import main
from qdrant_rebuild.errors import ConfigError
from qdrant_store import close_embedded


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    path = tmp_path / "run.toml"
    path.write_text(
        '[qdrant]\npath = "store"\n\n[collection]\nalias = "kb"\n\n'
        '[[sources]]\nname = "docs"\nkind = "documents"\npath = "docs"\n'
    )
    return path


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the mistake was found")

    monkeypatch.setattr(embedders, "load_embedder", refuse)
    yield
    close_embedded()


def test_search_of_a_collection_that_does_not_exist_names_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", "--config", str(config), "anything"])

    assert code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: no collection or alias named 'kb'")
    assert "qdrant-rebuild rebuild" in error


def test_export_of_a_collection_that_does_not_exist_writes_no_file(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.parquet"

    code = main(["export", "--config", str(config), "missing", str(target)])

    assert code == 1
    assert "no collection or alias named 'missing'" in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.parametrize("limit", ["0", "-3", "five"])
def test_search_wants_a_positive_number_of_hits(
    config: Path, limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["search", "--config", str(config), "-k", limit, "anything"])

    assert stopped.value.code == 2
    assert f"{limit!r} is not a whole number above 0" in capsys.readouterr().err


def test_an_unknown_source_stops_the_rebuild_before_prefect_starts(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qdrant_rebuild import cli

    def refuse(args: object) -> int:
        raise AssertionError("the rebuild started before its config was checked")

    monkeypatch.setattr(cli, "_rebuild", refuse)

    code = main(["rebuild", "--config", str(config), "--source", "nope"])

    assert code == 1
    assert "nope" in capsys.readouterr().err


def test_a_hit_shows_its_place_and_its_url_only_when_it_has_one() -> None:
    from qdrant_rebuild.cli import _format_hit

    page = _format_hit(
        1, 0.71, {"source": "knowledge", "document_id": "a.md", "title": "A",
                  "heading_path": ["A", "Setup"], "text": "Install it."},
    )  # fmt: skip
    video = _format_hit(
        2, 0.5, {"source": "youtube", "document_id": "v.en", "title": "V",
                 "url": "https://youtu.be/v?t=61", "start_seconds": 61.2,
                 "end_seconds": 90.0, "text": "Hello."},
    )  # fmt: skip

    assert page.splitlines() == [
        "1. [0.710] knowledge/a.md",
        "   A — A > Setup",
        "   Install it.",
    ]
    assert video.splitlines()[1:3] == [
        "   V — 61s-90s",
        "   https://youtu.be/v?t=61",
    ]


def _logged(error: BaseException, all_tracebacks: bool = False) -> str:
    from qdrant_rebuild.cli import _LogFormatter

    try:
        raise error
    except BaseException:
        record = logging.LogRecord(
            "prefect.task_runs", logging.ERROR, __file__, 1, "failed", None,
            sys.exc_info(),
        )  # fmt: skip
    return _LogFormatter(all_tracebacks).format(record)


def test_errors_raised_on_purpose_are_logged_in_one_line() -> None:
    assert _logged(ConfigError("no points were written")).endswith(
        "ERROR prefect.task_runs: failed"
    )
    assert "Traceback" not in _logged(KeyboardInterrupt())


def test_unexpected_errors_and_verbose_runs_keep_their_tracebacks() -> None:
    assert "Traceback" in _logged(ValueError("a bug"))
    assert "Traceback" in _logged(ConfigError("x"), all_tracebacks=True)
