"""ToolBench DFSDT answer files -> Trajectory, and optionally each abandoned search branch.

Follows OpenBMB/ToolBench `data_example/answer/G1_answer/*.json` (one query per file):
- goal = `answer_generation.query`; tools = `answer_generation.function`;
- steps: walk the last message list of `answer_generation.train_messages` (the chosen path):
  assistant `content` = thought, `function_call` = action (JSON `arguments` -> dict), the next
  `role: "function"` message = observation;
- the `Finish` call is not a tool step: with `return_type: "give_answer"` its `final_answer`
  is the run's final answer (`json.loads(answer_generation.final_answer)["final_answer"]`
  first, the Finish arguments second); its thought goes to `metadata["final_thought"]`;
- success = `win == true` and `finish_type == "give_answer"`, else failure; a file
  without `win` (not yet judged by ToolEval) is unlabeled. `win` is not always right
  (G1 file 10 answers about the wrong agency): it is the benchmark's label, kept as is.

With `branches=True`, every root-to-leaf path of the DFSDT search `tree` that does not end in
a `give_answer` Finish (the chosen path) is also returned, as a failed trajectory with id
`<id>#branch<k>` (k = 1, 2, ... in depth-first order). Its steps come from the tree's
Thought / Action / Action Input nodes; note that ToolBench truncates observations in the tree
(they end in "...").

A file without `train_messages` (valid_data false: the run kept no chosen path) is read from
its search tree: the root-to-leaf path with the most tool calls that returned normally
(`observation_code` 0; ties: the first in depth-first order) is the run, a failure, with
`metadata["conversion_note"]` saying so (the conversion summary counts these notes). With
`branches=True` that path is not repeated among the branches.

Not handled: the `compare_candidates` list and the ToolEval pass-rate files are ignored.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from .common import (Located, arguments, as_text, json_records, label, located, need,
                     need_object, record_id)
from .openai import user_step

FORMAT = "toolbench"
FINISH = "Finish"
GIVE_ANSWER = "give_answer"


def is_record(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("answer_generation"), dict)


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError): the chosen path, then (branches) the dead ends."""
    for raw in json_records(path):
        if raw.error is not None:
            yield raw.where, raw.error
            continue
        rid = record_id(path, raw.key)
        yield located(raw.where, FORMAT, lambda: to_native(raw.value, rid))
        if branches:
            yield from _read_branches(raw.value, raw.where, rid)


def to_native(record: Any, rid: str) -> dict[str, Any]:
    """The chosen path of one answer file -> native dict. Raises RecordError."""
    common = _common(record)
    ag = record["answer_generation"]
    train = need(ag, "train_messages", list, "answer_generation", optional=True)
    if not train:
        return _best_path_native(record, rid)
    messages = need(train, -1, list, "answer_generation.train_messages")
    steps, finish, system = _walk(messages, f"answer_generation.train_messages[{len(train) - 1}]")
    final_answer = _final_answer(ag.get("final_answer")) or finish.get("final_answer", "")
    win, finish_type = record.get("win"), ag.get("finish_type")
    native = {"id": rid, **common, "steps": steps, "final_answer": final_answer}
    if isinstance(win, bool):
        native.update(label(win and finish_type == GIVE_ANSWER))
        if not native["success"]:
            native["failure_reason"] = (f"finish_type is {finish_type!r}"
                                        if finish_type != GIVE_ANSWER else "win is false")
    native["metadata"] = {"finish_type": finish_type, "valid_data": ag.get("valid_data"),
                          "query_count": ag.get("query_count"), "win": win, "system": system,
                          "final_thought": finish.get("thought", "")}
    return native


def _common(record: Any) -> dict[str, Any]:
    """Goal and tools, shared by the chosen path and the branches."""
    ag = need(need_object(record), "answer_generation", dict)
    tools = need(ag, "function", list, "answer_generation", optional=True) or []
    return {"goal": need(ag, "query", str, "answer_generation"), "tools": tools}


def _walk(messages: list, path: str) -> tuple[list[dict], dict[str, str], str]:
    """(steps, the Finish call as {"thought", "return_type", "final_answer"}, system text).

    A user message after the query is DFSDT's "all previous trails failed" prompt: the agent
    saw it, so it stays, as a step with role "user" (context, never evidence).
    """
    steps: list[dict[str, Any]] = []
    finish: dict[str, str] = {}
    system, seen_user, waiting = "", False, False
    said: list[str] = []           # assistant text not yet attached to a call
    for i, msg in enumerate(messages):
        where = f"{path}[{i}]"
        msg = need_object(msg, where)
        role = need(msg, "role", str, where)
        text = as_text(msg.get("content"))
        if role == "system":
            system = text
        elif role == "user" and not seen_user:
            seen_user = True     # the query again, wrapped in "...\nBegin!\n"
        elif role == "user":
            steps.append(user_step(said, text))
            said, waiting = [], False
        elif role == "assistant":
            said += [text] if text else []
            call = need(msg, "function_call", dict, where, optional=True)
            if call is None:
                continue
            name = need(call, "name", str, f"{where}.function_call")
            args = arguments(call.get("arguments"))
            thought, said = "\n\n".join(said), []
            if name == FINISH:
                finish = {"thought": thought, "return_type": str(args.get("return_type", "")),
                          "final_answer": as_text(args.get("final_answer"))}
                waiting = False
                continue
            steps.append({"thought": thought, "action": name, "action_input": args,
                          "observation": ""})
            waiting = True
        elif role == "function" and waiting:
            steps[-1]["observation"] = text
            waiting = False
        elif role == "function":
            raise RecordError(where, "a function result with no function call before it")
        else:
            raise RecordError(f"{where}.role", f"unexpected role {role!r}")
    if said and not finish:
        finish = {"thought": "\n\n".join(said)}
    return steps, finish, system


def _final_answer(raw: Any) -> str:
    """`answer_generation.final_answer`: a JSON string {"return_type", "final_answer"}.

    >>> _final_answer('{"return_type": "give_answer", "final_answer": "42"}'), _final_answer("")
    ('42', '')
    """
    if not isinstance(raw, str) or not raw.strip():
        return ""
    parsed = arguments(raw)
    return as_text(parsed.get("final_answer")) if "final_answer" in parsed else ""


BEST_PATH_NOTE = "read from the best path of its search tree (no train_messages)"


def _best_path_native(record: Any, rid: str) -> dict[str, Any]:
    """A run that kept no chosen path, read from the best root-to-leaf path of its tree."""
    common = _common(record)
    ag = record["answer_generation"]
    paths = _tree_paths(record)
    best = _best_index(paths)
    if best is None:
        raise RecordError("answer_generation.train_messages",
                          f"missing (valid_data is {json.dumps(ag.get('valid_data'))}) and the "
                          "search tree has no tool call: nothing to read")
    native = _branch_native(paths[best], common, rid, 0, rid)
    finish = _is_answer(paths[best])
    win = record.get("win")
    native.pop("success")
    native.pop("failure_reason")
    if isinstance(win, bool):           # no `win`: not judged by ToolEval, unlabeled
        native["success"] = win and finish
        if not native["success"]:
            native["failure_reason"] = ("win is false" if finish else "no chosen path "
                                        "(valid_data false): the search never gave an answer")
    native["metadata"] = {"finish_type": ag.get("finish_type"), "valid_data": ag.get("valid_data"),
                          "query_count": ag.get("query_count"), "win": win,
                          "final_thought": native["metadata"]["final_thought"],
                          "tree_path": best + 1, "tree_paths": len(paths),
                          "conversion_note": BEST_PATH_NOTE}
    return native


def _tree_paths(record: Any) -> list[list[dict]]:
    return _leaf_paths(need(need(record, "tree", dict), "tree", dict, "tree"))


def _best_index(paths: list[list[dict]]) -> int | None:
    """Index of the path with the most tool calls that returned normally (first of equals)."""
    def answered(path: list[dict]) -> int:
        return sum(1 for n in path if n.get("node_type") == "Action Input"
                   and n.get("observation_code") == 0 and n.get("observation") is not None)
    scored = [(answered(p), -i) for i, p in enumerate(paths) if answered(p) or _is_answer(p)]
    return -max(scored)[1] if scored else None


def _read_branches(record: Any, where: str, rid: str) -> Iterator[Located]:
    bwhere = f"{where}#branches"
    try:
        common = _common(record)
        paths = _tree_paths(record)
        ag = record["answer_generation"]
        best = None if ag.get("train_messages") else _best_index(paths)
    except RecordError as e:
        yield bwhere, e.at(bwhere)
        return
    k = 0
    for i, path in enumerate(paths):
        if _is_answer(path) or i == best:
            continue
        k += 1
        bw, bid = f"{where}#branch{k}", f"{rid}#branch{k}"
        yield located(bw, FORMAT, lambda: _branch_native(path, common, bid, k, rid))


def _leaf_paths(root: dict) -> list[list[dict]]:
    """Every root-to-leaf list of nodes, depth first (an explicit stack: trees can be deep)."""
    out: list[list[dict]] = []
    stack: list[tuple[dict, list[dict]]] = [(root, [])]
    while stack:
        node, above = stack.pop()
        path = above + [node]
        children = node.get("children") or []
        if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
            raise RecordError(f"tree: node at depth {len(above)}: children",
                              "expected a list of nodes")
        if not children:
            out.append(path)
        stack.extend((c, path) for c in reversed(children))
    return out


def _is_answer(path: list[dict]) -> bool:
    """Does this path end in a Finish call that gives an answer (the chosen path)?"""
    if len(path) < 2 or path[-2].get("description") != FINISH:
        return False
    return arguments(path[-1].get("description")).get("return_type") == GIVE_ANSWER


def _branch_native(path: list[dict], common: dict, bid: str, k: int,
                   parent: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    thought, action, gave_up, final_thought = "", None, False, ""
    for depth, node in enumerate(path):
        kind, text = node.get("node_type"), node.get("description")
        text = text if isinstance(text, str) else ""
        if kind == "Thought":
            thought = text
        elif kind == "Action":
            action = text
        elif kind == "Action Input" and action == FINISH:
            gave_up = arguments(text).get("return_type") != GIVE_ANSWER
            final_thought, action = thought, None
        elif kind == "Action Input" and action is not None:
            steps.append({"thought": thought, "action": action, "action_input": arguments(text),
                          "observation": as_text(node.get("observation"))})
            thought, action = "", None
        elif kind == "Action Input" and depth > 0:
            raise RecordError(f"tree: node at depth {depth}", "an Action Input without an Action")
    reason = ("abandoned branch of the DFSDT search: "
              + ("the agent gave up and restarted" if gave_up else "pruned"))
    return {"id": bid, **common, "steps": steps, "final_answer": "", "success": False,
            "failure_reason": reason,
            "metadata": {"branch": k, "branch_of": parent, "final_thought": final_thought}}
