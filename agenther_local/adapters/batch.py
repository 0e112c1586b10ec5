"""Convert several input files at once and count what happened, file by file.

`convert_files` is what `agenther-local convert` calls: it detects each file's format
(before reading any, so an unknown file stops the run before work is done), reads every
record, and sorts the results into trajectories and located RecordErrors. An id already
seen in an earlier record becomes a RecordError too: later stages key their journal on it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import RecordError
from ..trajectory import Trajectory
from . import check_input, detect_format, read
from .common import is_stepless
from .labels import Labels


@dataclass(frozen=True)
class FileCounts:
    """What one input file gave: read = failures + successes + unlabeled + invalid + stepless.

    `stepless` counts runs that ended without a single tool step (nothing to relabel); they
    go to the sidecar with the invalid records but are not malformed. `notes` counts the
    adapters' `metadata["conversion_note"]` (how a run was read when the file was unusual).
    """
    path: Path
    format: str
    detected: bool
    failures: int = 0
    successes: int = 0
    unlabeled: int = 0
    invalid: int = 0
    stepless: int = 0
    notes: tuple[tuple[str, int], ...] = ()

    @property
    def read(self) -> int:
        return self.failures + self.successes + self.unlabeled + self.invalid + self.stepless

    def line(self) -> str:
        """One summary line, e.g.
        runs.json: openai (detected), 67 read: 42 failures, 25 successes, 0 unlabeled, 0 invalid
        """
        how = "detected" if self.detected else "given"
        tail = f", {self.stepless} without a tool step" if self.stepless else ""
        tail += "".join(f"; {n} {note}" for note, n in self.notes)
        return (f"{self.path}: {self.format} ({how}), {self.read} read: {self.failures} failures, "
                f"{self.successes} successes, {self.unlabeled} unlabeled, {self.invalid} invalid"
                + tail)


@dataclass
class Conversion:
    trajectories: list[Trajectory] = field(default_factory=list)
    invalid: list[RecordError] = field(default_factory=list)
    files: list[FileCounts] = field(default_factory=list)


def convert_files(paths: Iterable[Path | str], fmt: str = "auto", branches: bool = False,
                  labels: Labels | None = None, progress: Callable[[int], Any] | None = None) -> Conversion:
    """Read every record of every file (or OpenHands conversation folder). Raises
    InputFileError for a file it cannot read.

    `progress(1)` is called after each record read (a progress bar's `update`)."""
    paths = [Path(p) for p in paths]
    for p in paths:
        check_input(p)
    formats = [(detect_format(p), True) if fmt == "auto" else (fmt, False) for p in paths]
    out = Conversion()
    seen: dict[str, str] = {}          # trajectory id -> where it was first read
    for path, (file_fmt, detected) in zip(paths, formats):
        counts = {"failures": 0, "successes": 0, "unlabeled": 0, "invalid": 0, "stepless": 0}
        notes: Counter[str] = Counter()
        for where, got in read(path, file_fmt, branches=branches, labels=labels):
            if progress is not None:
                progress(1)
            if isinstance(got, Trajectory) and got.id in seen:
                got = RecordError("id", f"{got.id!r} already read at {seen[got.id]}", where)
            if isinstance(got, RecordError):
                out.invalid.append(got)
                counts["stepless" if is_stepless(got) else "invalid"] += 1
                continue
            if isinstance(got.metadata.get("conversion_note"), str):
                notes[got.metadata["conversion_note"]] += 1
            seen[got.id] = where
            out.trajectories.append(got)
            kind = ("unlabeled" if not got.is_labeled
                    else "successes" if got.is_success else "failures")
            counts[kind] += 1
        out.files.append(FileCounts(path, file_fmt, detected, **counts,
                                    notes=tuple(sorted(notes.items()))))
    return out


def invalid_path(output: Path) -> Path:
    """The sidecar for records that could not be read.

    >>> invalid_path(Path("out/runs.jsonl")).as_posix(), invalid_path(Path("runs")).as_posix()
    ('out/runs.invalid.jsonl', 'runs.invalid.jsonl')
    """
    stem = output.stem if output.suffix == ".jsonl" else output.name
    return output.with_name(f"{stem}.invalid.jsonl")


def invalid_row(error: RecordError) -> dict[str, str]:
    """One sidecar line: where the record is and why it was not read."""
    return {"where": error.where, "reason": f"{error.field}: {error.problem}"}
