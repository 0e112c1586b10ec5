"""browser-use runs -> Trajectory: a task folder (`history.json` + `result.json`), or any folder
above such folders (every task below is read), or a `history.json` file alone.

Follows the files the browser-use agent writes per task (AgentHistoryList.save_to_file) and
the result file of web-arena-x/webarena-infinity's runner:
- `history.json`: `history[]`, one item per agent step: `model_output` (`thinking`,
  `evaluation_previous_goal`, `memory`, `next_goal`, `action`: a list of `{name: {params}}`),
  `result[]` (one per action: `extracted_content`, `error`, `is_done`), `state` (`url`,
  `title`, `interacted_element`), `state_message` (the prompt the agent saw: its own history,
  then `<browser_state>` with the page's interactive elements);
- `result.json`: `instruction`, `passed`, `verifier_message` (the app's state checker),
  `final_result`.

Mapping:
- goal = `instruction`, else the `<user_request>` of the first prompt;
- a step = one action: action = its name (`click`, `input`, `navigate` ...), action_input = its
  parameters, thought = the item's `thinking` (else `next_goal`) on its first action;
  observation = the action's result (`extracted_content`, or `Error: ...`), and for the item's
  last action the page the NEXT item saw (URL, title, and the element list of its
  `<browser_state>`; the agent's own history in the prompt is left out) after the
  marker line of evidence/pages.py. `done` is the final answer, not a step;
- the agent's `evaluation_previous_goal`, `memory` and the `done` action's `success` are its
  own claims: kept in metadata (`claimed_success`), never in an observation;
- label: `passed`; `failure_reason` and `metadata.verifier_message` = the checker's message;
  a checker that crashed ("Verifier exception: ...") labels nothing (success None).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputFileError, RecordError
from .common import Located, json_records, label, located, need, need_object

FORMAT = "browser_use"
HISTORY, RESULT = "history.json", "result.json"
_MAX_FOLDERS = 100_000
_USER_REQUEST = re.compile(r"<user_request>\s*(.*?)\s*</user_request>", re.S)
_ELEMENTS = re.compile(r"Interactive elements[^\n]*\n(.*?)(?:</browser_state>|\Z)", re.S)


def is_record(value: Any) -> bool:
    """A history file: {"history": [{"model_output": ..., "state": ...}, ...]}."""
    if not isinstance(value, dict) or not isinstance(value.get("history"), list) or not value["history"]:
        return False
    return all(isinstance(h, dict) and "model_output" in h and "state" in h for h in value["history"][:3])


def is_task_dir(path: Path) -> bool:
    """Is there at least one browser-use task folder (history.json) at or below path?"""
    return next(_task_dirs(Path(path)), None) is not None


def _task_dirs(path: Path) -> Iterator[Path]:
    if (path / HISTORY).is_file():
        yield path
        return
    if path.is_dir():
        for p in sorted(path.rglob(HISTORY)):
            yield p.parent


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per task; `branches` does not apply here."""
    path = Path(path)
    if not path.is_dir():
        for raw in json_records(path):
            if raw.error is not None:
                yield raw.where, raw.error
                continue
            sibling = path.parent / RESULT
            yield located(raw.where, FORMAT, lambda: to_native(
                raw.value, need_object(_load(sibling), RESULT) if sibling.is_file() else {}, path.parent))
        return
    found = False
    for n, folder in enumerate(_task_dirs(path)):
        if n >= _MAX_FOLDERS:
            raise InputFileError(f"{path}: more than {_MAX_FOLDERS} task folders below it")
        found = True
        yield located(str(folder), FORMAT, lambda folder=folder: folder_native(folder))
    if not found:
        raise InputFileError(f"{path}: a directory with no browser-use task in it (expected {HISTORY})")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(path.name, f"cannot read: {e}") from None


def folder_native(folder: Path) -> dict[str, Any]:
    history = _load(folder / HISTORY)
    result = _load(folder / RESULT) if (folder / RESULT).is_file() else {}
    return to_native(history, need_object(result, RESULT), folder)


def page_text(item: dict) -> str:
    """The page an item's prompt showed: marker line (URL | title) and its element list."""
    state = item.get("state") or {}
    msg = item.get("state_message") or ""
    m = _ELEMENTS.search(msg[msg.find("<browser_state>"):]) if "<browser_state>" in msg else None
    url, title = str(state.get("url") or ""), str(state.get("title") or "")
    if m is None:
        return ""
    return f"=== page: {url} | {title} ===\n{m.group(1).rstrip()}"


def to_native(history: Any, result: dict, folder: Path) -> dict[str, Any]:
    history = need_object(history, HISTORY)
    items = need(history, "history", list)
    steps: list[dict[str, Any]] = []
    final, claimed = "", None
    for n, item in enumerate(items):
        where = f"history[{n}]"
        item = need_object(item, where)
        out = need(item, "model_output", dict, where, optional=True) or {}
        acts = need(out, "action", list, f"{where}.model_output", optional=True) or []
        results = need(item, "result", list, where, optional=True) or []
        thought = str(out.get("thinking") or out.get("next_goal") or "")
        page = page_text(items[n + 1]) if n + 1 < len(items) else ""
        for k, act in enumerate(acts):
            act = need_object(act, f"{where}.model_output.action[{k}]")
            if len(act) != 1:
                raise RecordError(f"{where}.model_output.action[{k}]", f"expected one action name, got {len(act)}")
            name, params = next(iter(act.items()))
            params = params if isinstance(params, dict) else {"value": params}
            res = results[k] if k < len(results) and isinstance(results[k], dict) else {}
            if name == "done":
                final = str(params.get("text") or res.get("extracted_content") or "")
                claimed = params.get("success")
                continue
            said = f"Error: {res['error']}" if res.get("error") else str(res.get("extracted_content") or "")
            obs = said + ("\n" + page if page and k == len(acts) - 1 else "")
            steps.append({"thought": thought if k == 0 else "", "action": str(name), "action_input": params,
                          "observation": obs})
    goal = str(result.get("instruction") or "")
    if not goal:
        first = next((i.get("state_message") for i in items if isinstance(i, dict) and i.get("state_message")), "")
        m = _USER_REQUEST.search(first or "")
        goal = m.group(1) if m else ""
    checker = str(result.get("verifier_message") or "")
    passed = result.get("passed")
    if checker.lower().startswith("verifier exception"):
        passed = None                      # the checker crashed: no label
    parts = folder.parts[-3:]
    meta = {"pages": "browser_use", "verifier_message": checker, "claimed_success": claimed,
            "task_id": result.get("task_id"), "app": parts[0] if len(parts) == 3 else "",
            "difficulty": result.get("difficulty")}
    native = {"id": "/".join(parts), "goal": goal, "steps": steps,
              "final_answer": final or str(result.get("final_result") or ""),
              "metadata": {k: v for k, v in meta.items() if v not in (None, "")}, **label(passed)}
    if passed is False and checker:
        native["failure_reason"] = checker
    return native
