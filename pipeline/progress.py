"""Progress of a run, from one place: a tqdm bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from tqdm import tqdm

logger = logging.getLogger(__name__)


class Progress:
    """Counts documents, chunks and points as work units report them.

    On a terminal it draws a tqdm bar; in a container or a Prefect worker it logs
    one line every ``log_every`` seconds instead. It is thread-safe: the upsert
    thread reports written points while the model reports embedded chunks.
    """

    def __init__(
        self,
        total_documents: int,
        description: str,
        log_every: float = 10.0,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.total = total_documents
        self.log_every = log_every
        self.log = log or logger
        self.documents = 0
        self.chunks = 0
        self.points = 0
        self.started = time.monotonic()
        self._last_log = self.started
        self._lock = threading.Lock()
        terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar = (
            tqdm(total=total_documents, desc=description, unit="doc", file=sys.stderr)
            if terminal
            else None
        )

    def documents_done(self, count: int) -> None:
        with self._lock:
            self.documents += count
            if self._bar is not None:
                self._bar.update(count)
        self._tick()

    def chunks_embedded(self, count: int) -> None:
        with self._lock:
            self.chunks += count
        self._tick()

    def points_written(self, count: int) -> None:
        with self._lock:
            self.points += count
        self._tick()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tick(self) -> None:
        now = time.monotonic()
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix(
                    chunks=self.chunks, points=self.points, refresh=False
                )
            return
        if now - self._last_log < self.log_every:
            return
        self._last_log = now
        elapsed = max(now - self.started, 1e-9)
        self.log.info(
            "progress: %d/%d documents, %d chunks embedded, %d points written, "
            "%.1f chunks/s",
            self.documents,
            self.total,
            self.chunks,
            self.points,
            self.chunks / elapsed,
        )


_current: Progress | None = None


def set_current(progress: Progress | None) -> None:
    """Make ``progress`` the reporter that work units in this process report to."""
    global _current
    _current = progress


def current() -> Progress | None:
    return _current
