"""A small progress bar for long commands, written to stderr.

Shown only when stderr is a terminal or the command runs with ``--verbosity`` 2 or
more, so scripts and cron jobs get clean output. On a terminal it redraws one line;
otherwise it prints a line at every tenth of the work.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Thread-safe counter that draws itself; ``total=None`` while still unknown."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        verbosity: int = 1,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = (tty or verbosity > 1) if enabled is None else enabled
        self.redraw = tty
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._last_decile = -1

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            self._draw()

    def _draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.redraw:
            now = time.monotonic()
            if not final and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self.stream.write("\r" + self._line() + ("\n" if final else ""))
            self.stream.flush()
            return
        decile = (self.done * 10 // self.total) if self.total else -1
        if final and self.total and decile == self._last_decile:
            return  # the last line already says it
        if final or (self.total and decile != self._last_decile):
            self._last_decile = decile
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def _line(self) -> str:
        if not self.total:
            return f"{self.label}: {self.done}"
        width = 30
        filled = min(width, self.done * width // self.total)
        percent = min(100, self.done * 100 // self.total)
        return f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {percent:3d}%"

    def close(self) -> None:
        with self._lock:
            self._draw(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class NoProgress(Progress):
    """A progress bar that draws nothing (the default of the plain functions)."""

    def __init__(self, label: str = "", total: int | None = None) -> None:
        super().__init__(label, total, enabled=False)


def for_command(label: str, options: dict, stream: TextIO | None = None) -> Progress:
    """The progress bar of a management command: stderr, shown on a TTY or ``-v 2``."""
    return Progress(label, verbosity=int(options.get("verbosity", 1)), stream=stream)
