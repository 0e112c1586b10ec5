"""Trajectory and Step: the native record every adapter produces and every stage reads.

Frozen dataclasses; `Trajectory.from_dict` is the one place input is validated, and its
errors name the bad field ("steps[2].observation: expected a string, got a list").

A step's `role` says where its observation came from:
- "tool": the output of a tool call. Only these are evidence for a hindsight goal (SPEC,
  "Hard negatives": the user's words and the agent's own claims re-admit unmet constraints).
- "user": a user turn after the first (tau-bench, OpenAI transcripts). Context, not evidence.
"""
from __future__ import annotations

import dataclasses

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import RecordError

ROLES = ("tool", "user")


@dataclass(frozen=True)
class Step:
    thought: str
    action: str
    action_input: dict[str, Any]
    observation: str
    role: str = "tool"

    @property
    def is_evidence(self) -> bool:
        return self.role == "tool"

    def to_dict(self) -> dict[str, Any]:
        d = {"thought": self.thought, "action": self.action,
             "action_input": self.action_input, "observation": self.observation}
        if self.role != "tool":
            d["role"] = self.role
        return d


@dataclass(frozen=True)
class Trajectory:
    id: str
    goal: str
    steps: tuple[Step, ...]
    final_answer: str = ""
    failure_reason: str | None = None
    success: bool | None = None
    reward: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: tuple[dict[str, Any], ...] = ()   # tool schemas (OpenAI function format), when known

    @property
    def is_labeled(self) -> bool:
        return self.success is not None or self.reward is not None

    @property
    def is_success(self) -> bool:
        """True for `success: true` or `reward == 1` (the benchmark's own label)."""
        if self.success is not None:
            return self.success
        return self.reward is not None and self.reward >= 1.0

    def upto(self, n: int) -> "Trajectory":
        """The run's first `n` steps with no final message: what a sample cut after step n - 1
        shows before its answer is written from the evidence."""
        return dataclasses.replace(self, steps=self.steps[:n], final_answer="")

    @property
    def evidence_steps(self) -> list[tuple[int, Step]]:
        """(index, step) of the steps whose observation is a tool output."""
        return [(i, s) for i, s in enumerate(self.steps) if s.is_evidence]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "goal": self.goal,
                             "steps": [s.to_dict() for s in self.steps],
                             "final_answer": self.final_answer}
        if self.failure_reason is not None:
            d["failure_reason"] = self.failure_reason
        if self.success is not None:
            d["success"] = self.success
        if self.reward is not None:
            d["reward"] = self.reward
        if self.metadata:
            d["metadata"] = self.metadata
        if self.tools:
            d["tools"] = list(self.tools)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Trajectory":
        """Validate one native record. Raises RecordError naming the first bad field.

        >>> Trajectory.from_dict({"id": "a", "goal": "g", "steps": [{"action": "search",
        ...     "action_input": {"q": "x"}, "observation": "y"}]}).steps[0].thought
        ''
        """
        if not isinstance(d, dict):
            raise RecordError("record", f"expected a JSON object, got {_kind(d)}")
        rid = d.get("id")
        if rid is None:
            raise RecordError("id", "missing")
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            raise RecordError("id", f"expected a string, got {_kind(rid)}")
        goal = _str(d, "goal", required=True)
        if not goal.strip():
            raise RecordError("goal", "empty")
        raw_steps = d.get("steps")
        if raw_steps is None:
            raise RecordError("steps", "missing")
        if not isinstance(raw_steps, list):
            raise RecordError("steps", f"expected a list, got {_kind(raw_steps)}")
        if not raw_steps:
            raise RecordError("steps", "empty: a trajectory needs at least one step")
        steps = tuple(_step(s, f"steps[{i}]") for i, s in enumerate(raw_steps))
        final_answer = _str(d, "final_answer", required=False) or ""
        failure_reason = d.get("failure_reason")
        if failure_reason is not None and not isinstance(failure_reason, str):
            raise RecordError("failure_reason", f"expected a string, got {_kind(failure_reason)}")
        success = d.get("success")
        if success is not None and not isinstance(success, bool):
            raise RecordError("success", f"expected true or false, got {_kind(success)}")
        reward = d.get("reward")
        if reward is not None and (isinstance(reward, bool) or not isinstance(reward, (int, float))):
            raise RecordError("reward", f"expected a number, got {_kind(reward)}")
        metadata = d.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise RecordError("metadata", f"expected an object, got {_kind(metadata)}")
        tools = d.get("tools") or []
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise RecordError("tools", "expected a list of objects")
        return cls(id=str(rid), goal=goal, steps=steps, final_answer=final_answer,
                   failure_reason=failure_reason, success=success,
                   reward=float(reward) if reward is not None else None,
                   metadata=metadata, tools=tuple(tools))


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _str(d: dict, key: str, required: bool, prefix: str = "") -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise RecordError(prefix + key, "missing")
        return None
    if not isinstance(v, str):
        raise RecordError(prefix + key, f"expected a string, got {_kind(v)}")
    return v


def _step(s: Any, where: str) -> Step:
    if not isinstance(s, dict):
        raise RecordError(where, f"expected an object, got {_kind(s)}")
    p = where + "."
    action = _str(s, "action", required=True, prefix=p)
    action_input = s.get("action_input", {})
    if action_input is None:
        action_input = {}
    if not isinstance(action_input, dict):
        raise RecordError(p + "action_input", f"expected an object, got {_kind(action_input)}")
    observation = _str(s, "observation", required=True, prefix=p)
    thought = _str(s, "thought", required=False, prefix=p) or ""
    role = s.get("role", "tool")
    if role not in ROLES:
        raise RecordError(p + "role", f"expected one of {', '.join(ROLES)}, got {role!r}")
    return Step(thought=thought, action=action, action_input=action_input,
                observation=observation, role=role)


def dumps(traj: Trajectory) -> str:
    """One JSONL line for a trajectory (sorted keys are not used: field order is the spec's)."""
    return json.dumps(traj.to_dict(), ensure_ascii=False)
