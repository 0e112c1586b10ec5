"""Actions: what the agent did. Each tool call with its arguments, result, status and kind.

SPEC ("What counts as evidence"): the arguments of a WRITE call whose result shows success are
exactly what the run achieved ("booked HAT136 for 2 passengers paid with credit_card_4421486"),
so they are evidence; the arguments of read calls (queries) and of failed calls are not.
- status, from the result: `failed` (an error string, an `"error"`/`"status"` field saying so,
  an HTTP 4xx/5xx, a refusal, a non-zero exit code), `unknown` (no output), else `succeeded`;
- kind, in this order: the config's override table (`[evidence] write_tools`/`read_tools`),
  code tools by their command (`str_replace_editor create`, `sed -i`, `cp`, `> file` write;
  `view`, `cat`, `grep` read), the tool schema's description when the run has one, and the
  verb of the tool's name (`book_`, `cancel_`, `update_`, `send_`, `transfer_` write; `get_`,
  `search_`, `list_`, `calculate`, `think` read). A name with no known verb is a read: no
  completeness rule is built on a call we cannot name.
A browser run's actions are classified from its pages instead (evidence/pages.py).
A write's `target` is what it changed, so several edits of one file (or updates of one
reservation) are one thing a goal must ask for: a file path, else the id argument, else the call.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable

from ..trajectory import Trajectory
from . import pages
from .values import PATH as _PATH

WRITE_VERBS = frozenset(
    "book reserve order purchase buy create add insert post put patch set update modify change edit "
    "upgrade downgrade rebook reschedule cancel delete remove drop void terminate send transfer "
    "submit pay refund refuel enable disable toggle reset apply commit rename move write save "
    "upload issue grant assign resume suspend activate deactivate register subscribe unsubscribe "
    "replace append exchange return approve reject close open_account mark schedule escalate "
    "str_replace".split())
READ_VERBS = frozenset(
    "get search list find lookup look calculate compute think read view show fetch query check "
    "retrieve describe count browse scroll goto open find_file search_dir search_file grep ls cat "
    "head tail inspect verify validate analyze analyse summarize estimate convert translate "
    "detect recommend predict explore download info status".split())
_VIEW_NOUNS = frozenset("filter sort search query view page order_by facet".split())
# Shell commands whose effect is to change a file (the file is the target).
_SHELL_WRITE = re.compile(r"(?:^|[;&|\n]\s*)(?:sed\s+-i|cp\b|mv\b|rm\b|touch\b|mkdir\b|tee\b|patch\b|git\s+apply|"
                          r"git\s+commit|git\s+checkout\s+--|truncate\b)|(?<=\s)>{1,2}\s*(?!&|/dev/null)[\w./-]+\.\w")
_EDITOR_WRITES = frozenset("create str_replace insert undo_edit edit write append".split())
_ERROR_TEXT = re.compile(
    r"(?i)^\s*(?:error\b|exception\b|traceback\b|failed\b|failure\b|invalid\b|denied\b|forbidden\b|"
    r"unauthori[sz]ed\b|not allowed\b|cannot\b|can't\b|could not\b|unable to\b|no such\b|\w*error:)"
    r"|\b(?:status(?:_code)?|code)\W{0,3}[45]\d\d\b|\bHTTP/\d(?:\.\d)? [45]\d\d\b")
_RETURN_CODE = re.compile(r"(?i)(?:<returncode>|\"?returncode\"?\s*[:=]|exit (?:code|status)\W*)\s*(-?\d+)")
_DOES_NOT_CHANGE = re.compile(r"(?i)\b(?:read-only|does not (?:modify|change)|without (?:modifying|changing))\b")


@dataclass(frozen=True)
class Action:
    step: int                  # index in traj.steps
    name: str
    args: dict[str, Any]
    result: str
    status: str                # succeeded | failed | unknown
    kind: str                  # read | write
    verb: str                  # the verb the kind was decided by ("book", "sed -i", "schema")
    target: str                # what a write changed: a path, an id, or the call itself
    page: bool = False         # a browser action: its scope is what the pages show of it (evidence/pages.py)

    @property
    def is_write(self) -> bool:
        return self.kind == "write"

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "name": self.name, "kind": self.kind, "status": self.status,
                "verb": self.verb, "target": self.target}


def name_words(name: str) -> list[str]:
    """Words of a tool name: 'book_reservation' -> ['book', 'reservation']; 'getUserDetails' ->
    ['get', 'user', 'details']; 'transitaire_for_transitaires' -> ['transitaire', 'for', ...].

    >>> name_words("searchFlights"), name_words("str_replace_editor")
    (['search', 'flights'], ['str', 'replace', 'editor'])
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w.lower() for w in re.split(r"[\W_]+", spaced) if w]


def call_status(result: str) -> str:
    """succeeded | failed | unknown, from what the call returned.

    >>> [call_status(r) for r in ("Error: payment amount does not add up", '{"error": "not found"}',
    ...     '{"status": "success"}', "", "<returncode>1</returncode>", '{"error": "", "response": "[]"}')]
    ['failed', 'failed', 'succeeded', 'unknown', 'failed', 'succeeded']
    """
    text = result.strip()
    if not text:
        return "unknown"
    m = _RETURN_CODE.search(text[:200])
    if m:
        return "succeeded" if m.group(1) == "0" else "failed"
    if text[:1] == "{":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            err = data.get("error") or data.get("errors")
            if err:
                return "failed"
            status = str(data.get("status", "")).lower()
            if status in ("error", "failed", "failure", "fail", "denied", "rejected"):
                return "failed"
            code = data.get("status_code") or data.get("code")
            if isinstance(code, int) and 400 <= code < 600:
                return "failed"
            return "succeeded"
    return "failed" if _ERROR_TEXT.search(text[:300]) else "succeeded"


def _shell_command(args: dict[str, Any]) -> str | None:
    for key in ("command", "cmd", "code", "bash", "script"):
        v = args.get(key)
        if isinstance(v, str):
            return v
    return None


def _shell_targets(cmd: str) -> list[str]:
    """Files a shell command writes: the last path of cp/mv/touch/tee/sed -i, after `>`."""
    # a redirection is ">" after a space (not "->", ">=" or "2>&1"), to a path
    targets = [m.group(1) for m in re.finditer(r"(?<=\s)>{1,2}\s*([\w./-]+)", cmd)
               if m.group(1) != "/dev/null" and _PATH.fullmatch(m.group(1))]
    for line in re.split(r"[;&|\n]+", cmd):
        try:
            toks = shlex.split(line, posix=True)
        except ValueError:
            toks = line.split()
        if not toks:
            continue
        head = toks[0]
        paths = [t for t in toks[1:] if not t.startswith("-") and _PATH.fullmatch(t)]
        if head in ("cp", "mv", "touch", "tee", "rm") or (head == "sed" and "-i" in toks):
            targets += paths[-1:] if head in ("cp", "mv") else paths
    return list(dict.fromkeys(targets))


def classify(name: str, args: dict[str, Any], schema_description: str = "",
             write_tools: Iterable[str] = (), read_tools: Iterable[str] = ()) -> tuple[str, str, list[str]]:
    """(kind, the verb that decided it, written paths) of one tool call.

    >>> classify("book_reservation", {})[:2], classify("get_user_details", {})[:2]
    (('write', 'book'), ('read', 'get'))
    >>> classify("bash", {"command": "cp a.py a.py.backup"})
    ('write', 'shell', ['a.py.backup'])
    >>> classify("str_replace_editor", {"command": "view", "path": "/repo/x.py"})[:2]
    ('read', 'view')
    """
    if name in set(write_tools):
        return "write", "config", []
    if name in set(read_tools):
        return "read", "config", []
    sub = args.get("command") if isinstance(args.get("command"), str) else None
    words = name_words(name)
    if sub and (sub in _EDITOR_WRITES or sub in ("view",)) and ("editor" in words or "file" in words or "edit" in words):
        path = args.get("path") or args.get("file") or ""
        return ("write" if sub in _EDITOR_WRITES else "read"), sub, [str(path)] if path and sub in _EDITOR_WRITES else []
    if words and words[0] in ("bash", "shell", "execute", "run", "terminal", "cmd", "ipython", "python"):
        cmd = _shell_command(args) or ""
        if _SHELL_WRITE.search(cmd):
            return "write", "shell", _shell_targets(cmd)
        return "read", "shell", []
    if words and words[0] in ("edit", "create", "write", "insert", "append") and not args.get("command"):
        path = args.get("path") or args.get("file") or args.get("filename") or ""
        return "write", words[0], [str(path)] if path else []
    if schema_description and _DOES_NOT_CHANGE.search(schema_description):
        return "read", "schema", []
    for i, w in enumerate(words):
        if w in READ_VERBS:
            return "read", w, []
        if w in WRITE_VERBS:
            # "apply_filters", "set_sort_order": a write verb on a view of the data is a read
            if any(x.rstrip("s") in _VIEW_NOUNS for x in words[i + 1:]):
                return "read", w, []
            return "write", w, []
    if schema_description:
        first = name_words(schema_description.split(".")[0])[:3]
        for w in first:
            stem = w[:-1] if w.endswith("s") else w
            if stem in WRITE_VERBS:
                return "write", "schema", []
            if stem in READ_VERBS:
                return "read", "schema", []
    return "read", "unknown", []


_TARGET_KEYS = ("path", "file", "filename", "reservation_id", "order_id", "booking_id", "id", "line_id",
                "account_id", "customer_id", "bill_id", "user_id")


def _target(name: str, args: dict[str, Any], paths: list[str], step: int) -> str:
    if paths:
        return paths[-1]
    for k in _TARGET_KEYS:
        v = args.get(k)
        if isinstance(v, (str, int)) and str(v):
            return f"{name}:{v}"
    return f"{name}@{step}"


def _schemas(traj: Trajectory) -> dict[str, str]:
    out = {}
    for t in traj.tools:
        f = t.get("function", t)
        if isinstance(f, dict) and f.get("name"):
            out[str(f["name"])] = str(f.get("description") or "")
    return out


def actions_of(traj: Trajectory, write_tools: Iterable[str] = (), read_tools: Iterable[str] = ()) -> list[Action]:
    """Every tool call of the run (steps whose observation is a tool output), in order."""
    schemas = _schemas(traj)
    out = []
    for i, step in traj.evidence_steps:
        kind, verb, paths = classify(step.action, step.action_input, schemas.get(step.action, ""),
                                     write_tools, read_tools)
        status = call_status(step.observation)
        target = _target(step.action, step.action_input, paths, i) if kind == "write" else ""
        out.append(Action(i, step.action, step.action_input, step.observation, status, kind, verb, target))
    # a browser run's writes succeed only when a later page shows their effect
    return pages.web_actions(traj, out) if pages.is_web_run(traj) else out
