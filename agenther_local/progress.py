"""Progress of long commands (`run`, `eval`, `convert`, `train`): a bar on a terminal, a plain
line every few seconds in a log.

On a terminal, tqdm draws its bar (rate and ETA) on stderr. When stderr is not a terminal (a
log file, a CI job, `nohup`), a redrawn bar is noise and a silent job looks hung, so
`LineProgress` writes one line every `PROGRESS_LOG_EVERY_S` seconds instead:

    relabel: 12/60 traj (20%), 0.41 traj/s, ETA 1m57s, accepted 3

Both offer the same three calls: `update(n)`, `set_postfix_str(text)`, `close()`.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Any, Callable

from .config import PROGRESS_LOG_EVERY_S


def format_seconds(seconds: float) -> str:
    """A duration as the log line shows it.

    >>> format_seconds(42.4), format_seconds(117), format_seconds(3725)
    ('42s', '1m57s', '1h02m05s')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


class LineProgress:
    """tqdm's interface, written as one plain line at most every `every` seconds.

    `close()` writes the final count only when the job ran at least `every` seconds: a job that
    short needs no progress report, and its command's summary follows anyway. `clock` is
    injectable so tests need not sleep.
    """

    def __init__(self, total: int | None, unit: str, desc: str, stream: IO[str] | None = None,
                 every: float = PROGRESS_LOG_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.total, self.unit, self.desc = total, unit, desc
        self.stream = stream if stream is not None else sys.stderr
        self.every, self.clock = every, clock
        self.n = 0
        self.postfix = ""
        self._start = self._last = clock()
        self._closed = False

    def line(self) -> str:
        """The current state as one line (no newline)."""
        elapsed = max(self.clock() - self._start, 1e-9)
        rate = self.n / elapsed
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.desc}: {done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.n // self.total}%)"
        parts.append(f"{rate:.2f} {self.unit}/s" if rate >= 0.01 else f"{elapsed / max(self.n, 1):.0f} s/{self.unit}")
        if self.total and self.n and self.n < self.total:
            parts.append(f"ETA {format_seconds((self.total - self.n) / rate)}")
        elif not self.total or self.n >= self.total:
            parts.append(f"elapsed {format_seconds(elapsed)}")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def _emit(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._last = self.clock()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self._last >= self.every:
            self._emit()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.clock() - self._start >= self.every:
                self._emit()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: int | None, unit: str, desc: str, quiet: bool = False,
                 stream: IO[str] | None = None) -> Any:
    """A tqdm bar when `stream` (default stderr) is a terminal, a LineProgress otherwise, None when quiet."""
    if quiet:
        return None
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        from tqdm import tqdm
        return tqdm(total=total or None, unit=unit, desc=desc, file=stream)
    return LineProgress(total, unit, desc, stream)
