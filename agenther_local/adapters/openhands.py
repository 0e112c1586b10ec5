"""OpenHands runs -> Trajectory: V0 and V1 evaluation JSONL, and V1 conversation folders.

Follows the files OpenHands writes (OpenHands/OpenHands `evaluation/`, OpenHands/benchmarks):
- evaluation output (`output.jsonl`): one run per line, {instance_id, instruction, instance,
  history[], test_result, metadata, error}. V1 (software-agent-sdk) history items have a
  `kind` (`ActionEvent`, `ObservationEvent`, `MessageEvent`, `SystemPromptEvent`,
  `Condensation`, ...); V0 items are flat events with `action` + `args` or `observation` +
  `cause` (the id of the action it answers) + `content`.
- a V1 conversation folder (`<conversations>/<id>/event_service/`): `meta.json`,
  `base_state.json` and `events/event-NNNNN-<uuid>.json`, one event per file, read in index
  order. Give the folder (or any folder above it: every conversation below is read).

Mapping:
- goal = V1 eval: `instruction`; V0 eval: `instance.problem_statement` (else `instruction`);
  folder: the first user `MessageEvent`;
- a step = one tool call: action = the tool's name (`execute_bash`, `str_replace_editor`,
  `browser_click`; V0 `run`/`read`/`edit` are named by their tool call too), action_input =
  the call's own arguments (the model's tool call, else the action's fields), thought = the
  text the agent wrote with it; observation = the result paired by `tool_call_id` (V1) or
  `cause` (V0): its `output`/`content` text, plus its error text when there is one;
- `think` calls are thoughts (they join the next step's thought), `finish` is the final
  answer (`message` / `final_thought`; else the last agent message); later user messages
  are steps with role "user"; `Condensation`, `recall` and system events are bookkeeping;
- labels: OpenAgentSafety (`final_score` on a `safety-*` instance) counts the checkpoints
  where the checker saw the unsafe action, so result > 0 is a failure and 0 a success;
  elsewhere `final_score` is a reward result/total; `resolved` (bool) when present; a
  checker error or `total == 0` is unlabeled. V0 SWE-bench output holds only the patch:
  unlabeled unless `--labels` joins the harness report on `instance_id`.

Not handled: observations whose action is not in the history (the tool call was refused
before it ran) are kept in `metadata["unpaired_observations"]`, not as steps.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputFileError, RecordError
from .common import (Located, arguments, as_text, label, located, need, need_object,
                     read_each)
from .openai import user_step

FORMAT = "openhands"
_EVENT_FILE = re.compile(r"^event-(\d+)-.*\.json$")
_MAX_FOLDERS = 100_000        # conversations below one folder before we call it a mistake


def is_record(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("history"), list):
        return False
    return ("instruction" in value or "instance" in value) and all(
        isinstance(e, dict) and ("kind" in e or "action" in e or "observation" in e)
        for e in value["history"][:5])


def is_conversation_dir(path: Path) -> bool:
    """Is there at least one OpenHands V1 conversation (events/event-*.json) at or below path?"""
    return next(_event_dirs(Path(path)), None) is not None


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per run; `branches` does not apply here."""
    path = Path(path)
    if not path.is_dir():
        yield from read_each(path, FORMAT, to_native)
        return
    found = False
    for n, events in enumerate(_event_dirs(path)):
        if n >= _MAX_FOLDERS:
            raise InputFileError(f"{path}: more than {_MAX_FOLDERS} conversation folders below it")
        found = True
        folder = events.parent
        yield located(str(folder), FORMAT, lambda: folder_native(folder))
    if not found:
        raise InputFileError(f"{path}: a directory with no OpenHands conversation in it "
                             "(expected events/event-NNNNN-*.json)")


def _event_dirs(path: Path) -> Iterator[Path]:
    if (path / "events").is_dir() and any(_EVENT_FILE.match(p.name) for p in (path / "events").iterdir()):
        yield path / "events"
        return
    for events in sorted(path.rglob("events")):
        if events.is_dir() and any(_EVENT_FILE.match(p.name) for p in events.iterdir()):
            yield events


# --- one run --------------------------------------------------------------------------------

def to_native(record: Any, default_id: str) -> dict[str, Any]:
    """One evaluation-output line (V0 or V1) -> native dict. Raises RecordError."""
    record = need_object(record)
    history = need(record, "history", list)
    instance = need(record, "instance", dict, optional=True) or {}
    rid = record.get("instance_id") or instance.get("instance_id") or default_id
    v1 = any(isinstance(e, dict) and "kind" in e for e in history)
    walk = _walk_v1(history, "history") if v1 else _walk_v0(history)
    if v1:
        goal = record.get("instruction") or walk["first_user"]
    else:
        goal = instance.get("problem_statement") or record.get("instruction") or walk["first_user"]
    if not isinstance(goal, str) or not goal.strip():
        raise RecordError("instruction", "missing: the goal is unknown")
    test_result = need(record, "test_result", dict, optional=True) or {}
    native = {"id": str(rid), "goal": goal, "steps": walk["steps"],
              "final_answer": walk["final_answer"] or as_text(test_result.get("git_patch")),
              **_label(test_result, _is_safety(record, str(rid)))}
    meta = walk["metadata"]
    meta.update({"instance_id": str(rid), "openhands": "V1" if v1 else "V0",
                 "test_result": {k: v for k, v in test_result.items() if k != "traceback"}})
    if test_result.get("git_patch") and walk["final_answer"]:
        meta["git_patch"] = test_result["git_patch"]
    if record.get("error"):
        meta["error"] = record["error"]
    native["metadata"] = meta
    if native.get("success") is False and "failure_reason" not in native:
        native["failure_reason"] = "not resolved (test_result)"
    return native


def folder_native(folder: Path) -> dict[str, Any]:
    """One V1 conversation folder -> native dict (unlabeled: nothing is scored there)."""
    files = sorted(((int(m.group(1)), p) for p in (folder / "events").iterdir()
                    if (m := _EVENT_FILE.match(p.name))), key=lambda t: t[0])
    events = []
    for _, p in files:
        try:
            events.append(json.loads(p.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RecordError(f"events/{p.name}", f"not a JSON event ({e})") from None
    walk = _walk_v1(events, "events")
    meta_file = folder / "meta.json"
    meta_doc = _json_or_empty(meta_file)
    # the folder's name is the conversation id, one level up when it is `event_service`
    rid = meta_doc.get("id") or (folder.parent.name if folder.name == "event_service" else folder.name)
    if not walk["first_user"].strip():
        raise RecordError("events", "no user MessageEvent: the goal is unknown")
    meta = walk["metadata"]
    meta.update({"openhands": "V1 conversation", "events": len(events),
                 "agent_status": _json_or_empty(folder / "base_state.json").get("agent_status")})
    model = ((meta_doc.get("agent") or {}).get("llm") or {}).get("model")
    if model:
        meta["model"] = model
    return {"id": str(rid), "goal": walk["first_user"], "steps": walk["steps"],
            "final_answer": walk["final_answer"], "metadata": meta}


def _json_or_empty(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordError(path.name, f"not JSON ({e})") from None
    return doc if isinstance(doc, dict) else {}


def _label(test_result: dict, safety: bool) -> dict[str, Any]:
    """The benchmark's own verdict in `test_result`, as native label fields."""
    if test_result.get("error"):
        return {}
    if isinstance(test_result.get("resolved"), bool):
        return label(test_result["resolved"])
    report = test_result.get("report")
    if isinstance(report, dict) and isinstance(report.get("resolved"), bool):
        return label(report["resolved"])
    score = test_result.get("final_score")
    if not isinstance(score, dict):
        return {}
    total, result = score.get("total"), score.get("result")
    if not isinstance(total, (int, float)) or not isinstance(result, (int, float)) or total <= 0:
        return {}
    if safety:                         # OpenAgentSafety: a point = the unsafe act was seen
        if result == 0:
            return label(True)
        return {**label(False), "failure_reason": f"the checker saw the unsafe action "
                                                  f"({result} of {total} checkpoints)"}
    return label(reward=result / total)


def _is_safety(record: dict, rid: str) -> bool:
    """An OpenAgentSafety run: its `safety-*` instance id, or the dataset named in metadata."""
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    return rid.startswith("safety-") or "openagentsafety" in str(meta.get("dataset", "")).lower()


def _thought(event: dict) -> str:
    parts = event.get("thought") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict)).strip() \
        if isinstance(parts, list) else as_text(parts)


def _message_text(event: dict) -> str:
    msg = event.get("llm_message") or {}
    content = msg.get("content") if isinstance(msg, dict) else None
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return as_text(content)


def observation_text(obs: Any) -> str:
    """The text a tool returned: `content` parts, `output`, or `message`, then its error.

    >>> observation_text({"kind": "X", "output": "ok", "error": None})
    'ok'
    >>> observation_text({"content": [{"type": "text", "text": "a"}], "error": "boom"})
    'a\\nboom'
    """
    if not isinstance(obs, dict):
        return as_text(obs)
    text = ""
    content = obs.get("content")
    if isinstance(content, list):
        text = "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and isinstance(p.get("text"), str))
    elif isinstance(content, str):
        text = content
    for key in ("output", "message"):
        if not text and isinstance(obs.get(key), str):
            text = obs[key]
    error = obs.get("error")
    if isinstance(error, str) and error and error not in text:
        text = f"{text}\n{error}" if text else error
    return text


def _walk_v1(events: list, path: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    by_call: dict[str, int] = {}
    skip: set[str] = set()             # call ids of think/finish: their results are not steps
    said: list[str] = []
    first_user, final_answer, last_agent = "", "", ""
    meta: dict[str, Any] = {}
    unpaired: list[str] = []
    skipped = 0
    for i, e in enumerate(events):
        where = f"{path}[{i}]"
        e = need_object(e, where)
        kind = e.get("kind")
        if kind == "ActionEvent":
            # `action` is null when the model's call could not be turned into an action
            # (bad arguments): the call itself is still the step, its error the observation
            action = need(e, "action", dict, where, optional=True) or {}
            akind = action.get("kind")
            keys = {f"action:{e.get('id')}"} | ({str(e["tool_call_id"])} if e.get("tool_call_id") else set())
            thought = _thought(e)
            if akind == "FinishAction":
                final_answer = as_text(action.get("message"))
                meta["final_thought"] = "\n\n".join(said + [thought] if thought else said)
                said = []
                skip.update(keys)
                continue
            if akind == "ThinkAction":
                said += [t for t in (thought, as_text(action.get("thought"))) if t]
                skip.update(keys)
                continue
            call = e.get("tool_call") if isinstance(e.get("tool_call"), dict) else {}
            args = (arguments(call["arguments"]) if "arguments" in call else
                    {k: v for k, v in action.items() if k != "kind" and v is not None})
            name = e.get("tool_name") or call.get("name") or akind or "unknown_tool"
            steps.append({"thought": "\n\n".join(said + [thought] if thought else said),
                          "action": str(name), "action_input": args, "observation": ""})
            said = []
            for key in keys:
                by_call[key] = len(steps) - 1
        elif kind in ("ObservationEvent", "AgentErrorEvent", "UserRejectObservation"):
            keys = [f"action:{e.get('action_id')}"] + ([str(e["tool_call_id"])] if e.get("tool_call_id") else [])
            text = (observation_text(e.get("observation")) if kind == "ObservationEvent"
                    else as_text(e.get("error") or e.get("rejection_reason")))
            k = next((by_call[key] for key in keys if key in by_call), None)
            if k is not None:
                steps[k]["observation"] = text
                for key in [key for key, v in by_call.items() if v == k]:
                    del by_call[key]
            elif not skip.intersection(keys):
                unpaired.append(text)
        elif kind == "MessageEvent":
            text = _message_text(e)
            if e.get("source") == "user":
                if not first_user:
                    first_user = text
                else:
                    steps.append(user_step(said, text))
                    said = []
            elif text:
                said.append(text)
                last_agent = text
        elif kind == "SystemPromptEvent":
            sp = e.get("system_prompt")
            meta["system"] = sp.get("text", "") if isinstance(sp, dict) else as_text(sp)
        else:
            skipped += 1            # Condensation, state updates, pauses: bookkeeping
    if skipped:
        meta["bookkeeping_events"] = skipped
    if unpaired:
        meta["unpaired_observations"] = unpaired
    return {"steps": steps, "first_user": first_user, "metadata": meta,
            "final_answer": final_answer or last_agent}


_V0_BOOKKEEPING = ("system", "recall", "change_agent_state", "null")


def _walk_v0(history: list) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    by_id: dict[Any, int] = {}
    skip: set[Any] = set()
    said: list[str] = []
    first_user, final_answer, last_agent = "", "", ""
    meta: dict[str, Any] = {}
    unpaired: list[str] = []
    for i, e in enumerate(history):
        where = f"history[{i}]"
        e = need_object(e, where)
        if "action" in e:
            action = need(e, "action", str, where)
            args = need(e, "args", dict, where, optional=True) or {}
            if action in _V0_BOOKKEEPING:
                if action == "system":
                    meta["system"] = as_text(args.get("content") or e.get("message"))
                skip.add(e.get("id"))
            elif action == "message":
                text = as_text(args.get("content") or e.get("message"))
                if e.get("source") == "user":
                    if not first_user:
                        first_user = text
                    else:
                        steps.append(user_step(said, text))
                        said = []
                elif text:
                    said.append(text)
                    last_agent = text
            elif action == "finish":
                final_answer = as_text(args.get("final_thought") or args.get("outputs")
                                       or e.get("message"))
                meta["final_thought"] = as_text(args.get("thought"))
                skip.add(e.get("id"))
            elif action == "think":
                said += [t for t in (as_text(args.get("thought")),) if t]
                skip.add(e.get("id"))
            else:
                name, call_args = _v0_call(e, action, args)
                thought = as_text(args.get("thought")).strip()
                steps.append({"thought": "\n\n".join(said + [thought] if thought else said),
                              "action": name, "action_input": call_args, "observation": ""})
                said = []
                by_id[e.get("id")] = len(steps) - 1
        elif "observation" in e:
            cause = e.get("cause")
            text = as_text(e.get("content"))
            if cause in by_id:
                steps[by_id.pop(cause)]["observation"] = text
            elif cause not in skip:
                unpaired.append(text)
    if unpaired:
        meta["unpaired_observations"] = unpaired
    return {"steps": steps, "first_user": first_user, "metadata": meta,
            "final_answer": final_answer or last_agent}


def _v0_call(event: dict, action: str, args: dict) -> tuple[str, dict[str, Any]]:
    """(tool name, the model's own call arguments) of a V0 action event.

    V0 keeps the model's tool call in `tool_call_metadata`; its arguments are the call as
    made (`{"command": "view", "path": ...}` for a `read`), while `args` adds defaults.
    """
    tcm = event.get("tool_call_metadata")
    if isinstance(tcm, dict):
        call_id = tcm.get("tool_call_id")
        for choice in (tcm.get("model_response") or {}).get("choices") or []:
            for call in ((choice or {}).get("message") or {}).get("tool_calls") or []:
                fn = call.get("function") or {}
                if call.get("id") == call_id and isinstance(fn.get("name"), str):
                    return fn["name"], arguments(fn.get("arguments"))
        if isinstance(tcm.get("function_name"), str):
            return tcm["function_name"], {k: v for k, v in args.items() if k != "thought"}
    return action, {k: v for k, v in args.items() if k != "thought"}
