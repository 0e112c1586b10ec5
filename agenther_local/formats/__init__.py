"""Data packager (SPEC step 4): pure, deterministic functions from a trajectory to training rows.

    sft.py           TRL conversational SFT: (user: goal, assistant: trajectory)     -> sft.jsonl
    dpo.py           goal-contrast DPO, chosen (ĝ, τ) vs rejected (g, τ)             -> dpo.jsonl,
                     and the same pair for ms-swift (`rejected_messages`)            -> dpo_ms_swift.jsonl
    sharegpt.py      LLaMA-Factory ShareGPT, tool calls and observations as turns    -> sharegpt.jsonl
    dataset_info.py  LLaMA-Factory `dataset_info.json` entries for the written files
    card.py          the folder's dataset card README.md: one `datasets` config per file

Every row carries the quality weight w (`weight`, a rounded float) and the pipeline's `meta` dict,
copied unchanged, under `metadata`. Keep each meta key's type fixed across rows (a number always
a float, a list always a list of the same kind): Arrow infers one type per column. The runner
never needs a format's fields: `package()` returns {output file name: row}.

Every builder is pure, `(trajectory, goal, weight, meta) -> row`, so a shaped trajectory (cut,
final answer rewritten) is packaged like any other; the DPO builders also take `original=`, the
run before shaping, which their rejected side keeps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..trajectory import Trajectory
from .card import dataset_card
from .dataset_info import dataset_info
from .dpo import split_goal_contrast, to_dpo, to_dpo_ms_swift
from .sft import to_messages, to_sft
from .sharegpt import to_sharegpt


@dataclass(frozen=True)
class Output:
    """One output file of a format and the function that builds its rows."""
    file_name: str
    build: Callable[..., dict[str, Any]]   # build(traj, goal, weight=w, meta=m) -> one JSONL row
    takes_original: bool = False           # build(..., original=run before shaping) for its rejected side


FORMATS: dict[str, tuple[Output, ...]] = {
    "sft": (Output("sft.jsonl", to_sft),),
    "dpo": (Output("dpo.jsonl", to_dpo, takes_original=True),
            Output("dpo_ms_swift.jsonl", to_dpo_ms_swift, takes_original=True)),
    "sharegpt": (Output("sharegpt.jsonl", to_sharegpt),),
}


def package(traj: Trajectory, goal: str, weight: float, meta: dict[str, Any] | None = None,
            formats: tuple[str, ...] = tuple(FORMATS),
            original: Trajectory | None = None) -> dict[str, dict[str, Any]]:
    """The rows of one accepted relabel, keyed by output file name.

    `original` is the run before shaping (None: `traj` is the run as it was).

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "Find x < 2", (Step("", "search", {"q": "x"}, "x is 3"),), "x is 3")
    >>> sorted(package(t, "What is x?", 0.8, {"trajectory_id": "a"}))
    ['dpo.jsonl', 'dpo_ms_swift.jsonl', 'sft.jsonl', 'sharegpt.jsonl']
    """
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}, must be one of {list(FORMATS)}")
    rows = {}
    for name in formats:
        for out in FORMATS[name]:
            extra = {"original": original} if out.takes_original and original is not None else {}
            rows[out.file_name] = out.build(traj, goal, weight=weight, meta=meta, **extra)
    return rows


def to_success_sft(traj: Trajectory, weight: float = 1.0,
                   meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """SFT row for the success-only baseline: the run with its own goal (the caller picks runs).

    `meta` defaults to {"trajectory_id": traj.id}.

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "What is x?", (Step("", "search", {"q": "x"}, "x is 3"),), "3")
    >>> row = to_success_sft(t)
    >>> row["messages"][0], row["weight"], row["metadata"]
    ({'role': 'user', 'content': 'What is x?'}, 1.0, {'trajectory_id': 'a'})
    """
    return to_sft(traj, traj.goal, weight, {"trajectory_id": traj.id} if meta is None else meta)


__all__ = ["FORMATS", "Output", "dataset_card", "dataset_info", "package", "split_goal_contrast", "to_dpo",
           "to_dpo_ms_swift", "to_messages", "to_sft", "to_sharegpt", "to_success_sft"]
