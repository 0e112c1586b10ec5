"""AgentLab / BrowserGym experiment folders -> Trajectory (WebArena, WorkArena, VisualWebArena,
MiniWoB runs all use this layout). Give the experiment folder, or any folder above it.

Follows the files AgentLab's `ExpResult` writes: `step_N.pkl.gz` (a pickled `StepInfo`: `obs`
with `goal`/`goal_object`, `url`, `axtree_txt`, `last_action`, `last_action_error`; `action`,
a string such as `click('12')` or `fill('a5', 'text')`; `agent_info.think`; `reward`,
`terminated`, `truncated`) and `summary_info.json` (`n_steps`, `cum_reward`, `err_msg`).
The pickles are untrusted input: they are read by adapters/safe_pickle.py, which builds
plain containers and never imports or runs what a file names; a file it cannot read is a
RecordError naming it.

Mapping: goal = `obs.goal` (else the text parts of `goal_object`); a first `goto` step holds the
page the environment opened (step_0's `obs`); step N = step_N's `action`
(name and arguments parsed from the call string: `click('12')` -> click {"bid": "12"}),
thought = `agent_info.think`, observation = step_{N+1}'s `last_action_error` (when set) and
page (`url`, the title of the open page, `axtree_txt`) after the marker line of
evidence/pages.py; a `send_msg_to_user(...)` action is the final answer. Label: reward =
`cum_reward`, success = `cum_reward >= 1` and no `err_msg`; `failure_reason` = `err_msg`.

Not handled: `pruned_html` and screenshots (the accessibility tree is the page); actions
whose argument list is not Python literals (kept whole as {"call": ...}).
"""
from __future__ import annotations

import ast
import gzip
import json
import pickle
import re
import zlib
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputFileError, RecordError
from . import safe_pickle
from .common import Located, located

FORMAT = "agentlab"
_STEP_FILE = re.compile(r"^step_(\d+)\.pkl\.gz$")
_MAX_FOLDERS = 100_000
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\((.*)\)\s*$", re.S)
# BrowserGym's action set: the names of each call's positional arguments.
_ARG_NAMES = {"click": ("bid", "button"), "dblclick": ("bid", "button"), "hover": ("bid",), "focus": ("bid",),
              "fill": ("bid", "value"), "select_option": ("bid", "options"), "check": ("bid",), "uncheck": ("bid",),
              "clear": ("bid",), "press": ("bid", "key_comb"), "goto": ("url",), "scroll": ("delta_x", "delta_y"),
              "send_msg_to_user": ("text",), "report_infeasible": ("reason",), "upload_file": ("bid", "file"),
              "drag_and_drop": ("from_bid", "to_bid"), "tab_focus": ("index",), "keyboard_press": ("key",),
              "keyboard_type": ("text",)}


def is_record(value: Any) -> bool:
    return False                        # a folder format: never a JSON record


def is_experiment_dir(path: Path) -> bool:
    """Is there at least one AgentLab experiment folder (step_N.pkl.gz) at or below path?"""
    return next(_experiment_dirs(Path(path)), None) is not None


def _is_exp(path: Path) -> bool:
    return path.is_dir() and any(_STEP_FILE.match(p.name) for p in path.iterdir())


def _experiment_dirs(path: Path) -> Iterator[Path]:
    if _is_exp(path):
        yield path
        return
    if path.is_dir():
        for p in sorted({q.parent for q in path.rglob("step_0.pkl.gz")}):
            yield p


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per experiment folder; `branches` does not apply."""
    path = Path(path)
    found = False
    for n, folder in enumerate(_experiment_dirs(path)):
        if n >= _MAX_FOLDERS:
            raise InputFileError(f"{path}: more than {_MAX_FOLDERS} experiment folders below it")
        found = True
        yield located(str(folder), FORMAT, lambda folder=folder: folder_native(folder))
    if not found:
        raise InputFileError(f"{path}: no AgentLab experiment folder in it (expected step_N.pkl.gz)")


def load_pickle(path: Path) -> Any:
    """A (gzipped) pickle through the restricted unpickler; RecordError naming the file."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return safe_pickle.load(data)
    except safe_pickle.UnsafePickle as e:
        raise RecordError(path.name, f"not loaded: {e}") from None
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            pickle.UnpicklingError, zlib.error, gzip.BadGzipFile) as e:
        raise RecordError(path.name, f"cannot read the pickle ({type(e).__name__}: {str(e)[:80]})") from None


def parse_action(text: str) -> tuple[str, dict[str, Any]]:
    """BrowserGym's action string -> (name, arguments).

    >>> parse_action("click('12')"), parse_action("fill('a5', 'Hello')")
    (('click', {'bid': '12'}), ('fill', {'bid': 'a5', 'value': 'Hello'}))
    """
    m = _CALL.match(text or "")
    if not m:
        return ("noop" if not (text or "").strip() else "action"), ({"call": text} if text else {})
    name = m.group(1)
    try:
        call = ast.parse(f"f({m.group(2)})", mode="eval").body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
            return name, {"call": text}             # not one call ("a('x').b('y')")
        args = [ast.literal_eval(a) for a in call.args]            # literals only: nothing runs
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except (SyntaxError, ValueError):
        return name, {"call": text}
    names = _ARG_NAMES.get(name, ())
    out = {(names[i] if i < len(names) else f"arg{i}"): v for i, v in enumerate(args)}
    return name, {**out, **kwargs}


def _page(obs: dict) -> str:
    titles = obs.get("open_pages_titles") or []
    active = obs.get("active_page_index")
    title = titles[0] if len(titles) == 1 else (titles[active] if isinstance(active, int) and active < len(titles) else "")
    tree = str(obs.get("axtree_txt") or "")
    return f"=== page: {obs.get('url') or ''} | {title} ===\n{tree}" if tree else ""


def folder_native(folder: Path) -> dict[str, Any]:
    files = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name)))
    infos = [load_pickle(p) for _, p in files]
    for (_, p), info in zip(files, infos):
        if not isinstance(info, dict) or not isinstance(info.get("obs"), dict):
            raise RecordError(p.name, "expected a StepInfo with an `obs` object")
    first = infos[0]["obs"]
    goal = str(first.get("goal") or "")
    if not goal and isinstance(first.get("goal_object"), (list, tuple)):
        goal = " ".join(str(g.get("text", "")) for g in first["goal_object"] if isinstance(g, dict))
    # the page the environment opened before the agent's first action (step_0's observation)
    steps, final = [{"thought": "", "action": "goto", "action_input": {"url": str(first.get("url") or "")},
                     "observation": _page(first)}], ""
    for k, info in enumerate(infos):
        action = info.get("action")
        if not isinstance(action, str) or not action.strip():
            continue
        name, args = parse_action(action)
        if name == "send_msg_to_user":
            final = str(args.get("text", ""))
            continue
        nxt = infos[k + 1]["obs"] if k + 1 < len(infos) else {}
        err = str(nxt.get("last_action_error") or "")
        page = _page(nxt)
        obs = (f"Error: {err}\n" if err else "") + page
        think = (info.get("agent_info") or {}).get("think") if isinstance(info.get("agent_info"), dict) else ""
        steps.append({"thought": str(think or ""), "action": name, "action_input": args, "observation": obs})
    summary = {}
    if (folder / "summary_info.json").is_file():
        try:
            summary = json.loads((folder / "summary_info.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise RecordError("summary_info.json", f"cannot read: {e}") from None
    reward, err_msg = summary.get("cum_reward"), summary.get("err_msg")
    native: dict[str, Any] = {"id": folder.name, "goal": goal, "steps": steps, "final_answer": final,
                              "metadata": {"pages": "axtree", "n_steps": summary.get("n_steps")}}
    if isinstance(reward, (int, float)) and not isinstance(reward, bool):
        native["reward"] = float(reward)
        native["success"] = reward >= 1.0 and not err_msg
    if err_msg:
        native["failure_reason"] = str(err_msg)
    return native
