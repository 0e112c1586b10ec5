"""The AgentHER reference code's trajectory format, both ways: read it, and write it.

Follows alphadl/AgentHER `agenther/models.py` (`FailedTrajectory`, `AgentStep`) and its
`examples/example_trajectories.json`: a JSON list or JSONL of
{trajectory_id, original_prompt, steps[{thought, action_name, action_input (object),
observation}], final_answer, failure_reason, metadata}.
- Reading: every record is a failure (the reference code takes failed runs only, and
  `failure_reason` is required there), unless its metadata carries our own `success` /
  `reward` from an earlier `convert --to agenther`. `metadata["step_roles"]`, when present,
  restores which steps were user turns.
- Writing (`convert --to agenther`): one `FailedTrajectory` per line, loadable by the
  reference code's `_load_trajectories`. What its schema has no field for goes to metadata:
  our id and labels (`agenther_local`), and the role of every step (`step_roles`), because
  AgentStep has no role and a user turn must not pass for a tool call when read back.
  `failure_reason` is "" for a run that has none.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..trajectory import ROLES, Trajectory
from .common import Located, as_text, label, need, need_object, read_each

FORMAT = "agenther"
_OURS = "agenther_local"       # metadata key holding what FailedTrajectory has no field for


def is_record(value: Any) -> bool:
    return (isinstance(value, dict) and "original_prompt" in value
            and isinstance(value.get("steps"), list))


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per record; `branches` does not apply here."""
    return read_each(Path(path), FORMAT, to_native)


def to_native(record: Any, default_id: str) -> dict[str, Any]:
    """One FailedTrajectory -> native dict. Raises RecordError naming the bad field."""
    record = need_object(record)
    meta = dict(need(record, "metadata", dict, optional=True) or {})
    ours = meta.pop(_OURS, None)
    ours = ours if isinstance(ours, dict) else {}
    roles = meta.pop("step_roles", None)
    steps = []
    for i, step in enumerate(need(record, "steps", list)):
        where = f"steps[{i}]"
        step = need_object(step, where)
        role = roles[i] if isinstance(roles, list) and i < len(roles) and roles[i] in ROLES else "tool"
        steps.append({"thought": as_text(step.get("thought")),
                      "action": need(step, "action_name", str, where),
                      "action_input": need(step, "action_input", dict, where, optional=True) or {},
                      "observation": need(step, "observation", str, where), "role": role})
    rid = record.get("trajectory_id")
    reason = need(record, "failure_reason", str, optional=True)
    labels = label(ours.get("success"), ours.get("reward")) if ours else {}
    native: dict[str, Any] = {
        "id": rid if isinstance(rid, str) and rid else default_id,
        "goal": need(record, "original_prompt", str), "steps": steps,
        "final_answer": need(record, "final_answer", str, optional=True) or "",
        **(labels or label(False)), "metadata": meta,
    }
    if reason or not labels:
        native["failure_reason"] = reason or "listed as a failed trajectory (no reason given)"
    return native


def to_agenther(traj: Trajectory) -> dict[str, Any]:
    """A trajectory as the reference code's FailedTrajectory (a new dict; traj is untouched).

    >>> from agenther_local.trajectory import Step
    >>> t = Trajectory("a", "find x", (Step("", "search", {"q": "x"}, "x=3"),), "3",
    ...                "wrong x", success=False)
    >>> d = to_agenther(t)
    >>> d["trajectory_id"], d["steps"][0]["action_name"], d["metadata"]["agenther_local"]
    ('a', 'search', {'success': False})
    """
    ours = {k: v for k, v in (("success", traj.success), ("reward", traj.reward))
            if v is not None}
    meta: dict[str, Any] = {**traj.metadata, _OURS: ours}
    if any(s.role != "tool" for s in traj.steps):
        meta["step_roles"] = [s.role for s in traj.steps]
    return {"trajectory_id": traj.id, "original_prompt": traj.goal,
            "steps": [{"thought": s.thought, "action_name": s.action,
                       "action_input": dict(s.action_input), "observation": s.observation}
                      for s in traj.steps],
            "final_answer": traj.final_answer, "failure_reason": traj.failure_reason or "",
            "metadata": meta}

