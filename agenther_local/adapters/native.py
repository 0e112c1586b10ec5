"""Native JSONL (the project's own `Trajectory` records) -> Trajectory.

Delegates to `jsonl.read_records`, which validates each line with `Trajectory.from_dict`.
The only addition is provenance: `metadata["source_format"]` and `metadata["source"]` are
filled when the record lacks them. A record converted earlier keeps the values it got then
(e.g. "toolbench" and the answer file), so the chain back to the original run survives.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from ..jsonl import read_records
from ..trajectory import Trajectory
from .common import Located

FORMAT = "native"


def is_record(value: Any) -> bool:
    return isinstance(value, dict) and "goal" in value and "steps" in value


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per line; `branches` does not apply here."""
    for where, got in read_records([Path(path)]):
        if isinstance(got, Trajectory):
            got = replace(got, metadata={"source_format": FORMAT, "source": where,
                                         **got.metadata})
        yield where, got
