"""Inspect AI eval logs -> Trajectory, one per sample: `.json` logs and zipped `.eval` logs.

Follows Inspect's EvalLog (UKGovernmentBEIS/inspect_ai, log `version` 2): a `.json` log is
one object {version, status, eval, plan, results, stats, samples[]}; an `.eval` log is a ZIP
archive with `header.json` (the same without samples) and one `samples/<id>_epoch_<n>.json`
per sample. No Inspect install is needed.
- goal = the sample's `input` (a string, or the text of its first user message);
- messages are chat messages whose assistant `tool_calls` are {id, function (the tool's
  name), arguments (a dict)} and whose `role: "tool"` replies carry `tool_call_id` (and an
  `error` when the tool failed); they are read as in openai.py (the first user message is the
  goal, later user turns are steps with role "user");
- final answer = `output.choices[0].message.content` (else `output.completion`);
- label: the first scorer's `value`: "C" correct, "I" incorrect ("P" partial is a failure),
  a number is a reward, "N" (no answer) a failure; a sample `error` is a failure; a log whose
  `status` is not "success" and a sample without scores are unlabeled.

Not handled: the `events[]` transcript (sub-agents, sandbox calls) and `attachment://`
references, which Inspect stores in `events`, not in `messages`.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputFileError, RecordError
from .common import Located, as_text, label, located, need, need_object, json_records
from .openai import walk_messages

FORMAT = "inspect"
_SCORE_WORDS = {"C": True, "I": False, "P": False, "N": False}


def is_record(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("eval"), dict)
            and ("samples" in value or "status" in value) and "version" in value)


def is_zip_log(path: Path) -> bool:
    """An `.eval` log: a ZIP archive holding header.json or samples/."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return "header.json" in names or any(n.startswith("samples/") for n in names)


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per sample; `branches` does not apply here."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        yield from _read_zip(path)
        return
    for raw in json_records(path):
        if raw.error is not None:
            yield raw.where, raw.error
            continue
        try:
            log = need_object(raw.value, "log")
            samples = need(log, "samples", list, optional=True) or []
        except RecordError as e:
            yield raw.where, e.at(raw.where)
            continue
        for i, sample in enumerate(samples):
            yield located(f"{path}:#{i}", FORMAT, lambda: to_native(sample, log))


def _read_zip(path: Path) -> Iterator[Located]:
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise InputFileError(f"{path}: not a readable .eval archive ({e})") from None
    with z:
        names = z.namelist()
        header = _member(z, "header.json") if "header.json" in names else {}
        samples = sorted((n for n in names if n.startswith("samples/") and n.endswith(".json")),
                         key=_sample_order)
        for name in samples:
            where = f"{path}:{name}"
            try:
                sample = _member(z, name)
            except RecordError as e:
                yield where, e.at(where)
                continue
            yield located(where, FORMAT, lambda: to_native(sample, header))


def _sample_order(name: str) -> tuple:
    """samples/10_epoch_1.json after samples/9_epoch_1.json: numeric ids sort as numbers."""
    stem = name[len("samples/"):-len(".json")]
    sid, _, epoch = stem.rpartition("_epoch_")
    return (0, int(sid), int(epoch or 0)) if sid.isdigit() and epoch.isdigit() else (1, stem, 0)


def _member(z: zipfile.ZipFile, name: str) -> dict:
    try:
        value = json.loads(z.read(name).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordError(name, f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise RecordError(name, "expected a JSON object")
    return value


def to_native(sample: Any, log: dict) -> dict[str, Any]:
    """One EvalSample (with its log header for status and task) -> native dict."""
    sample = need_object(sample, "sample")
    messages = [_as_openai(m, f"messages[{i}]")
                for i, m in enumerate(need(sample, "messages", list))]
    raw_input = sample.get("input")
    if isinstance(raw_input, str):
        goal = raw_input
        if not any(m["role"] == "user" for m in messages):
            messages.insert(0, {"role": "user", "content": goal})
    walk = walk_messages(messages, "messages")
    goal = raw_input if isinstance(raw_input, str) else walk["first_user"]
    eval_info = log.get("eval") if isinstance(log.get("eval"), dict) else {}
    sid, epoch = sample.get("id"), sample.get("epoch")
    task = eval_info.get("task", "sample")
    # the log's eval_id keeps ids unique across logs of the same task (one per model, say)
    run = str(eval_info.get("eval_id") or eval_info.get("run_id") or "")[:8]
    native: dict[str, Any] = {
        "id": "-".join(p for p in (task, run, str(sid)) if p)
              + (f"-epoch{epoch}" if epoch not in (None, 1) else ""),
        "goal": goal, "steps": walk["steps"],
        "final_answer": _output_text(sample.get("output")) or walk["final_answer"],
        **_label(sample, log),
        "metadata": {"benchmark": "inspect", "task": task, "sample_id": sid, "epoch": epoch,
                     "model": eval_info.get("model"), "target": sample.get("target"),
                     "scores": sample.get("scores"), "log_status": log.get("status"),
                     **walk["metadata"]},
    }
    if native.get("success") is False:
        native["failure_reason"] = _failure_reason(sample)
    return native


def _as_openai(msg: Any, where: str) -> dict[str, Any]:
    """An Inspect chat message in the OpenAI shape that openai.walk_messages reads."""
    msg = need_object(msg, where)
    role = need(msg, "role", str, where)
    out: dict[str, Any] = {"role": role, "content": _content_text(msg.get("content"))}
    if role == "assistant" and msg.get("tool_calls"):
        out["tool_calls"] = [
            {"id": c.get("id"), "function": {"name": need(c, "function", str, f"{where}.tool_calls[{k}]"),
                                             "arguments": c.get("arguments") or {}}}
            for k, c in enumerate(need(msg, "tool_calls", list, where))]
    if role == "tool":
        out["tool_call_id"] = msg.get("tool_call_id")
        error = msg.get("error")
        if isinstance(error, dict) and error.get("message"):
            out["content"] = "\n".join(t for t in (out["content"], as_text(error["message"])) if t)
    return out


def _content_text(content: Any) -> str:
    """Text parts of Inspect content (reasoning and images are left out)."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return as_text(content)


def _output_text(output: Any) -> str:
    if not isinstance(output, dict):
        return ""
    choices = output.get("choices") or []
    if choices and isinstance(choices[0], dict):
        return _content_text((choices[0].get("message") or {}).get("content"))
    return as_text(output.get("completion"))


def _label(sample: dict, log: dict) -> dict[str, Any]:
    if log.get("status") not in (None, "success"):
        return {}
    if sample.get("error"):
        return label(False)
    scores = sample.get("scores")
    if not isinstance(scores, dict) or not scores:
        return {}
    first = next(iter(scores.values()))
    value = first.get("value") if isinstance(first, dict) else None
    if isinstance(value, str) and value.upper() in _SCORE_WORDS:
        return label(_SCORE_WORDS[value.upper()])
    if isinstance(value, bool):
        return label(value)
    return label(reward=value)


def _failure_reason(sample: dict) -> str:
    if sample.get("error"):
        return f"sample error: {as_text(sample['error'])[:200]}"
    name, score = next(iter(sample["scores"].items()))
    return f"scorer {name} gave {score.get('value')!r}"
