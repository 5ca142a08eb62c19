"""Walking a source folder: sorted, hidden files skipped, include and exclude globs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from config import SourceSettings
from qdrant_rebuild.errors import ConfigError, SourceError


def source_root(settings: SourceSettings) -> Path:
    """The source's folder, absolute; ConfigError when it is not a folder."""
    root = Path(settings.path).expanduser().resolve()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ConfigError(
            f"source {settings.name!r}: {root} {what}; fix its path in the config"
        )
    return root


def walk(
    root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> Iterator[tuple[str, Path]]:
    """``(relative POSIX path, absolute path)`` of the files under ``root``, sorted.

    Files and folders whose name starts with a dot are skipped. A glob without a
    ``/`` matches a file name at any depth (``*.md``); one with a ``/`` matches the
    whole path from the root, where ``**`` spans folders (``docs/**/*.md``).
    Empty ``include`` means every file.
    """
    found = []
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        base = Path(folder)
        for name in files:
            if name.startswith("."):
                continue
            path = base / name
            relative = path.relative_to(root).as_posix()
            if include and not any(matches(relative, g) for g in include):
                continue
            if any(matches(relative, g) for g in exclude):
                continue
            found.append((relative, path))
    yield from sorted(found)


def matches(relative: str, glob: str) -> bool:
    """Whether a relative POSIX path matches one include or exclude glob."""
    glob = glob.strip().removeprefix("./")
    if "/" not in glob:
        relative = relative.rsplit("/", 1)[-1]
    return _compile(glob).fullmatch(relative) is not None


def modified_time(path: Path) -> float:
    """The file's mtime; SourceError when it is gone."""
    try:
        return path.stat().st_mtime
    except OSError as exc:
        raise SourceError(str(path), f"cannot read the file: {exc.strerror}") from exc


def read_bytes(path: Path) -> bytes:
    """The file's bytes; SourceError when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read the file: {exc.strerror}") from exc


@lru_cache(maxsize=256)
def _compile(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in glob[i + 1 :]:
            close = glob.index("]", i + 1)
            body = glob[i + 1 : close].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = close + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))
