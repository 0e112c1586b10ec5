"""Success labels kept in a separate file (`--labels FILE`), joined to runs by instance id.

Benchmarks that score runs after the fact keep the verdict apart from the run: SWE-bench
writes a report, the run folder keeps the trajectories. Three shapes are read:
- a SWE-bench harness report (`<model>.<run_id>.json`, also mini-swe-agent's): `resolved_ids`
  succeed; `unresolved_ids` and `empty_patch_ids` fail; `error_ids` and `incomplete_ids`
  (the harness could not judge) and ids the report does not name stay unlabeled;
- a SWE-bench experiments `results.json` ({"resolved": [...], "no_generation": [...],
  "no_logs": [...], ...}): listed under `resolved` succeeds; any other id fails (the
  leaderboard counts every unlisted instance of the run as unresolved);
- a plain JSON object {id: true | false | number}: success, failure or reward.

A run is joined on `metadata["instance_id"]` when its adapter set one, else on its id. The
file's verdict replaces a label the run carried, and `metadata["label_source"]` names it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from ..trajectory import Trajectory

_REPORT_FAIL = ("unresolved_ids", "empty_patch_ids")
_REPORT_KEYS = ("resolved_ids", "unresolved_ids", "completed_ids", "submitted_ids")


@dataclass(frozen=True)
class Labels:
    """id -> (success, reward, why); `default` applies to ids the file does not name."""
    path: Path
    kind: str
    verdicts: dict[str, tuple[bool | None, float | None, str]]
    default: tuple[bool | None, float | None, str] | None = None

    def apply(self, traj: Trajectory) -> Trajectory:
        """The run with the file's verdict, or unchanged when the file has none for it."""
        key = str(traj.metadata.get("instance_id") or traj.id)
        verdict = self.verdicts.get(key, self.default)
        if verdict is None:
            return traj
        success, reward, why = verdict
        return replace(traj, success=success, reward=reward,
                       failure_reason=why if success is False or (reward is not None and reward < 1)
                       else traj.failure_reason,
                       metadata={**traj.metadata, "label_source": f"{self.path} ({self.kind})"})


def is_labels_file(value: Any) -> str | None:
    """The kind of label file a JSON value is, or None.

    >>> is_labels_file({"resolved": ["a"], "no_logs": []}), is_labels_file({"goal": 1})
    ('SWE-bench results.json', None)
    """
    if not isinstance(value, dict):
        return None
    if any(isinstance(value.get(k), list) for k in _REPORT_KEYS) and "resolved_ids" in value:
        return "SWE-bench harness report"
    if isinstance(value.get("resolved"), list) and all(isinstance(v, list) for v in value.values()):
        return "SWE-bench results.json"
    return None


def load_labels(path: Path | str) -> Labels:
    """Read a labels file. Raises InputFileError naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such labels file")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"{path}: not a JSON labels file ({e})") from None
    kind = is_labels_file(value)
    if kind == "SWE-bench harness report":
        verdicts = {str(i): (True, None, "") for i in value.get("resolved_ids") or []}
        for key in _REPORT_FAIL:
            verdicts.update({str(i): (False, None, f"listed in {key} of the SWE-bench report")
                             for i in value.get(key) or []})
        return Labels(path, kind, verdicts)
    if kind == "SWE-bench results.json":
        resolved = {str(i): (True, None, "") for i in value["resolved"]}
        return Labels(path, kind, resolved,
                      default=(False, None, "not in results.json resolved (SWE-bench)"))
    if isinstance(value, dict) and value and all(
            isinstance(v, (bool, int, float)) for v in value.values()):
        verdicts = {}
        for k, v in value.items():
            if isinstance(v, bool):
                verdicts[str(k)] = (v, None, "" if v else f"labelled false in {path.name}")
            else:
                verdicts[str(k)] = (None, float(v), f"reward {v} in {path.name}")
        return Labels(path, "id -> label", verdicts)
    raise InputFileError(f"{path}: not a labels file (expected a SWE-bench report with "
                         "resolved_ids, a results.json with resolved, or {id: true|false|number})")
