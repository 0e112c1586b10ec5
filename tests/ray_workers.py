"""Pipelines for the Ray engine tests, importable by Ray's worker processes (the tests put
this folder on their PYTHONPATH). No model: decisions are a fixed function of the record,
so any engine, worker count or order must give the same outputs."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agenther_local.trajectory import Trajectory


class StandInPipeline:
    """Accepts a run when a hash of (seed, id) is even; can kill its own process once."""

    def __init__(self, seed: int = 0, die_on: str | None = None, marker: str | None = None):
        self.seed = seed
        self.die_on = die_on
        self.marker = Path(marker) if marker else None
        self.timings = {"relabel": 0.0}

    def process(self, traj: Trajectory) -> dict:
        if self.die_on == traj.id and self.marker is not None and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)          # the worker process dies holding this trajectory
        self.timings["relabel"] += 0.001
        h = int(hashlib.sha256(f"{self.seed}:{traj.id}".encode()).hexdigest()[:8], 16)
        base = {"id": traj.id, "record": traj.to_dict(), "stage": "relabel", "weight": 0.8,
                "worker_pid": os.getpid()}
        if h % 2:
            return {**base, "status": "rejected", "reason": "stand-in rejection"}
        return {**base, "status": "accepted", "goal": f"What did {traj.steps[0].action} return?",
                "confidence": 0.9, "reason": "stand-in acceptance"}


def make_pipeline(seed: int = 0, die_on: str | None = None, marker: str | None = None) -> StandInPipeline:
    return StandInPipeline(seed, die_on, marker)


def broken_pipeline(message: str) -> StandInPipeline:
    raise RuntimeError(message)
