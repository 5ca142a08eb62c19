"""The ``qdrant-rebuild`` command: rebuild, backfill, parity, search, export, import.

The commands run the same Prefect flows a deployment runs, in this process and
without a server (Prefect's ephemeral API) unless PREFECT_API_URL names one.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from qdrant_rebuild import __version__
from qdrant_rebuild.errors import ConfigError, RebuildError, RunStopped, StoreError

logger = logging.getLogger("qdrant_rebuild")

_OWN_PACKAGES = (
    "qdrant_rebuild", "config", "sources", "chunking", "embedders",
    "qdrant_store", "pipeline", "parity", "flows",
)  # fmt: skip

_ENVIRONMENT_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "TOKENIZERS_PARALLELISM": "false",
    # Prefect's temporary API takes about 18 s to start on two busy cores, close
    # to Prefect's own 20 s limit.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def main(argv: Sequence[str] | None = None) -> int:
    for name, value in _ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter(all_tracebacks=args.verbose))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # One line per HTTP request to Prefect's API drowns the run's own lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.verbose:
        # Debug lines of this project only; the libraries' own are far too many.
        for name in _OWN_PACKAGES:
            logging.getLogger(name).setLevel(logging.DEBUG)
    interrupt_handler = signal.getsignal(signal.SIGINT)
    try:
        # A config mistake gets its one line here, before Prefect or the model start.
        from config import load_settings

        settings = load_settings(args.config)
        settings.select_sources(getattr(args, "sources", None))
        if args.handler in (_rebuild, _backfill):
            _start_prefect_api()
        signal.signal(signal.SIGINT, _Interrupts())
        return int(args.handler(args))
    except (KeyboardInterrupt, RunStopped):
        print("stopped; run the same command again to continue", file=sys.stderr)
        return 130
    except RebuildError as exc:
        if exc.summary:
            _print_summary(exc.summary)
        print(f"error: {exc}", file=sys.stderr)
        logger.debug("traceback", exc_info=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, interrupt_handler)
        from qdrant_store import close_embedded

        close_embedded()


class _LogFormatter(logging.Formatter):
    """Log lines, without the traceback of errors raised on purpose.

    Prefect logs a failed task or flow with its traceback; for a ``RebuildError``
    or a Ctrl-C the message already says what happened and what to do, and the
    traceback only buries it. ``-v`` keeps them.
    """

    def __init__(self, all_tracebacks: bool) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
        )
        self.all_tracebacks = all_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if (
            not self.all_tracebacks
            and record.exc_info
            and isinstance(record.exc_info[1], RebuildError | KeyboardInterrupt)
        ):
            record = logging.makeLogRecord(
                {**record.__dict__, "exc_info": None, "exc_text": None}
            )
        return super().format(record)


def _start_prefect_api() -> None:
    """Start Prefect's temporary API now, when no server is configured, with SIGINT
    blocked in the process that serves it.

    The terminal sends Ctrl-C to every process of the job. Left to start on first
    use, the temporary API would die with it, and the stopping run would wait on
    retries to a server that is gone. Blocked there, the signal reaches only this
    process; Prefect stops its server with SIGTERM at exit, as always.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        SubprocessASGIServer().start()
    except RuntimeError as exc:
        raise ConfigError(
            "Prefect's temporary API did not start in "
            f"{os.environ['PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS']} s "
            f"({str(exc).splitlines()[0]}); on a busy machine raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL "
            "to a running server"
        ) from exc
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _stop_prefect_api() -> None:
    """Stop the temporary API this process started; exiting at once would skip
    Prefect's own stop, and the server ignores the Ctrl-C that was meant for it."""
    from prefect.server.api.server import SubprocessASGIServer

    SubprocessASGIServer().stop()


class _Interrupts:
    """SIGINT handler: the first Ctrl-C stops the run after the chunks being
    embedded; the second stops the process at once, which is as safe as a crash
    (the next run resumes)."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.seen += 1
        if self.seen > 1:
            print("\nstopped at once; run the same command again", file=sys.stderr)
            _stop_prefect_api()
            os._exit(130)
        print(
            "\nstopping after the chunks being embedded (Ctrl-C again: at once)",
            file=sys.stderr,
        )
        raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qdrant-rebuild",
        description="Rebuild a Qdrant vector store from its sources.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    rebuild = commands.add_parser(
        "rebuild", help="build a fresh collection, check parity, move the alias"
    )
    _config_option(rebuild)
    rebuild.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="NAME",
        help="read only this source (repeatable)",
    )
    rebuild.add_argument(
        "--force-switch",
        action="store_true",
        help="move the alias even if parity fails or only some sources were read",
    )
    rebuild.set_defaults(handler=_rebuild)

    backfill = commands.add_parser(
        "backfill", help="bring a selection of the sources up to date in place"
    )
    _config_option(backfill)
    backfill.add_argument("--source", action="append", dest="sources", metavar="NAME")
    backfill.add_argument("--since", metavar="DATE", help="modified on or after DATE")
    backfill.add_argument("--ids", nargs="+", metavar="ID", help="these document ids")
    backfill.add_argument(
        "--paths", nargs="+", metavar="GLOB", help="paths relative to their source"
    )
    backfill.add_argument(
        "--prune",
        action="store_true",
        help="delete documents that vanished from the selected sources",
    )
    backfill.set_defaults(handler=_backfill)

    parity = commands.add_parser(
        "parity", help="compare a new collection with the old one"
    )
    _config_option(parity)
    parity.add_argument("--old", help="old collection or alias (default: config)")
    parity.add_argument("--new", help="new collection or alias (default: the alias)")
    parity.set_defaults(handler=_parity)

    search = commands.add_parser("search", help="print the top hits of a query")
    _config_option(search)
    search.add_argument("query")
    search.add_argument("-k", "--limit", type=_positive, default=5)
    search.add_argument("--collection", help="search this instead of the alias")
    search.set_defaults(handler=_search)

    export = commands.add_parser("export", help="write a collection to Parquet")
    _config_option(export)
    export.add_argument("collection")
    export.add_argument("file")
    export.set_defaults(handler=_export)

    load = commands.add_parser("import", help="load a Parquet export as a collection")
    _config_option(load)
    load.add_argument("file")
    load.add_argument("collection")
    load.add_argument(
        "--replace", action="store_true", help="replace a collection of that name"
    )
    load.set_defaults(handler=_import)
    return parser


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return number


def _existing(client: Any, name: str) -> str:
    """``name`` if it is a collection or an alias here; otherwise a clear error."""
    from qdrant_store import collections

    if collections.resolve(client, name) is None:
        known = sorted(collections.collection_names(client))
        known += sorted(collections.aliases(client))
        raise StoreError(
            f"no collection or alias named {name!r} in this Qdrant "
            f"(it has: {', '.join(known) or 'nothing yet'}); "
            "run `qdrant-rebuild rebuild` first or name another"
        )
    return name


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default="default",
        help="config profile (default, cortex) or path to a TOML file",
    )


def _rebuild(args: argparse.Namespace) -> int:
    from flows.rebuild import rebuild

    summary = rebuild(
        config=args.config, sources=args.sources, force_switch=args.force_switch
    )
    _print_summary(summary)
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from flows.backfill import backfill

    summary = backfill(
        config=args.config,
        sources=args.sources,
        since=args.since,
        ids=args.ids,
        paths=args.paths,
        prune=args.prune,
    )
    _print_summary(summary)
    return 0


def _parity(args: argparse.Namespace) -> int:
    from config import load_settings
    from parity import run_parity
    from qdrant_store import connect

    settings = load_settings(args.config)
    if args.old:
        settings = settings.model_copy(
            update={
                "parity": settings.parity.model_copy(
                    update={"old_collection": args.old}
                )
            }
        )
    report = run_parity(
        settings,
        new_collection=args.new or settings.collection.alias,
        new_client=connect(settings),
    )
    paths = report.write(settings.run.output_dir / "parity")
    print(report.to_markdown())
    print(report.verdict_line())
    print(f"report: {', '.join(str(p) for p in paths)}")
    return 0 if report.passed else 1


def _search(args: argparse.Namespace) -> int:
    from config import load_settings
    from embedders import load_embedder
    from qdrant_store import connect, translate

    settings = load_settings(args.config)
    client = connect(settings)
    target = _existing(client, args.collection or settings.collection.alias)
    embedder = load_embedder(settings.embedding)
    vectors, _ = embedder.encode([args.query])
    try:
        hits = client.query_points(
            target, query=vectors[0].tolist(), limit=args.limit, with_payload=True
        ).points
    except Exception as exc:
        raise translate(exc) from exc
    print(f"top {len(hits)} of {target} for {args.query!r}:")
    for rank, hit in enumerate(hits, start=1):
        print(_format_hit(rank, hit.score, hit.payload or {}))
    return 0


def _format_hit(rank: int, score: float, body: dict[str, Any]) -> str:
    place = ""
    if "heading_path" in body:
        place = " > ".join(body["heading_path"])
    elif "start_seconds" in body:
        place = f"{body['start_seconds']:.0f}s-{body.get('end_seconds', 0):.0f}s"
    excerpt = textwrap.shorten(" ".join(str(body.get("text", "")).split()), 200)
    lines = [
        f"{rank}. [{score:.3f}] {body.get('source')}/{body.get('document_id')}",
        f"   {body.get('title', '')}" + (f" — {place}" if place else ""),
    ]
    if body.get("url"):
        lines.append(f"   {body['url']}")
    lines.append(f"   {excerpt}")
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> int:
    from config import load_settings
    from parity.parquet import export_collection
    from qdrant_store import connect

    settings = load_settings(args.config)
    client = connect(settings)
    written = export_collection(client, _existing(client, args.collection), args.file)
    print(f"exported {written} points of {args.collection} to {args.file}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from config import load_settings
    from parity.parquet import import_collection
    from qdrant_store import connect

    settings = load_settings(args.config)
    loaded = import_collection(
        connect(settings), args.file, args.collection, replace=args.replace
    )
    print(f"imported {loaded} points from {args.file} into {args.collection}")
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    from pipeline.report import summary_lines

    print("\n".join(summary_lines(summary)))


if __name__ == "__main__":
    sys.exit(main())
