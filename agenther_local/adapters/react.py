"""ReAct Thought/Action/Observation text logs -> Trajectory (FireAct's JSON: see fireact.py).

Follows the ReAct paper's trace shape (Yao et al. 2023): `Question:`, then `Thought k:`,
`Action k: Name[argument]`, `Observation k:` (the k is optional: `Thought:` works too), as
written by these public sources:
- the Reflexion HotpotQA log (noahshinn/reflexion `100_questions_5_trials.txt`): `BEGIN TRIAL
  n` blocks whose questions sit under CORRECT / INCORRECT / HALTED headings; CORRECT is a
  success, INCORRECT and HALTED are failures. Ids are `trial<n>-q<m>`, m numbering distinct
  questions in order of first appearance, so one question keeps its m across trials. The
  log lists agents that finished on their last allowed step under both INCORRECT and
  HALTED with identical text; such a copy is one run, read once, with
  `metadata["also_listed_under"]` and `metadata["copies_at_lines"]`. A log without headings
  is unlabeled.
- FireAct's runs (`fireact.py` reads them; `--from react` on a JSON file goes there).

`Finish[...]` / `finish[...]` is not a tool step: its argument is the final answer, its
thought goes to `metadata["final_thought"]` and its observation ("Answer is CORRECT",
"Episode finished, reward = True") to `metadata["finish_observation"]`. Other actions become
steps with `action_input = {"argument": <text in brackets>}`. "Correct answer:" lines and
FireAct's gt/pred/em/f1 are kept in metadata. A run that finishes with no tool step has
nothing to relabel and is a RecordError.

Not handled: Reflexion's reflection text and its CoT logs; ALFWorld/WebShop logs (`> act`);
an Action line that spans several lines (only its first line is read).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import RecordError
from ..jsonl import decode_utf8
from .common import Located, first_char, label, located

FORMAT = "react"
_FIELD = re.compile(r"^(Question|Thought|Action|Observation)(?: (\d+))?:[ \t]?(.*)$")
_ANSWER = re.compile(r"^Correct answer:[ \t]?(.*)$")
_TRIAL = re.compile(r"^BEGIN TRIAL (\d+)\s*$")
_SECTION = re.compile(r"^-+ BEGIN (CORRECT|INCORRECT|HALTED) AGENTS -+\s*$")
_ACTION = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*\[(.*)\]\s*$")
_FAILURE = {"INCORRECT": "wrong final answer (listed under INCORRECT)",
            "HALTED": "stopped before a correct answer (listed under HALTED)"}

Field = tuple[str, str, str]    # (kind, step number or "", text)


def is_text_log(head: str) -> bool:
    """Does this text look like a ReAct log (an Action line and a Thought or Observation)?"""
    kinds = {m.group(1) for m in map(_FIELD.match, head.splitlines()) if m}
    return "Action" in kinds and bool(kinds & {"Thought", "Observation"})


def is_record(value: Any) -> bool:
    """A text log is detected from its lines (`is_text_log`), never from a JSON value."""
    return False


def read(path: Path, branches: bool = False) -> Iterator[Located]:
    """(where, Trajectory | RecordError) per run; `branches` does not apply here."""
    path = Path(path)
    if first_char(path) in ("[", "{"):
        from . import fireact      # FireAct's JSON is ReAct too: `--from react` reads it
        yield from fireact.read(path)
    else:
        yield from _read_log(path)


# --- text logs ------------------------------------------------------------------------------

@dataclass
class _Block:
    line: int
    trial: int | None
    section: str | None
    fields: list[list[str]] = field(default_factory=list)   # [kind, number, text]


def _read_log(path: Path) -> Iterator[Located]:
    text, err = decode_utf8(path.read_bytes(), path, "the whole log")
    if err is not None:
        yield err.where, err
        return
    blocks = list(_blocks(text.splitlines()))
    # The same run listed twice in one trial (INCORRECT and HALTED) is read once.
    copies: dict[tuple, list[_Block]] = {}
    for block in blocks:
        copies.setdefault((block.trial, _frozen(block.fields)), []).append(block)
    numbers: dict[str, int] = {}                 # question -> m, in order of appearance
    ids: set[str] = set()
    for block in blocks:
        m = numbers.setdefault(block.fields[0][2].strip(), len(numbers) + 1)
        group = copies[(block.trial, _frozen(block.fields))]
        if group[0] is not block:
            continue
        rid = _unique(f"trial{block.trial}-q{m}" if block.trial is not None else f"q{m}", ids)
        yield located(f"{path}:{block.line}", FORMAT, lambda: _log_native(block, rid, m, group))


def _frozen(fields: list[list[str]]) -> tuple:
    return tuple((kind, number, text.strip()) for kind, number, text in fields)


def _unique(rid: str, ids: set[str]) -> str:
    k, out = 1, rid
    while out in ids:
        k += 1
        out = f"{rid}-{k}"
    ids.add(out)
    return out


def _blocks(lines: list[str]) -> Iterator[_Block]:
    """One _Block per `Question:`, with its fields; other lines continue the last field."""
    trial: int | None = None
    section: str | None = None
    block: _Block | None = None
    for n, line in enumerate(lines, 1):
        trial_m, section_m = _TRIAL.match(line), _SECTION.match(line)
        if trial_m or section_m or line.startswith(("#####", "Trial summary:")):
            if block is not None:
                yield block
                block = None
            if trial_m:
                trial, section = int(trial_m.group(1)), None
            elif section_m:
                section = section_m.group(1)
            continue
        m = _FIELD.match(line)
        if m and m.group(1) == "Question":
            if block is not None:
                yield block
            block = _Block(n, trial, section, [["Question", "", m.group(3)]])
        elif block is None:
            continue            # text before the first question (headers, blank lines)
        elif m:
            block.fields.append([m.group(1), m.group(2) or "", m.group(3)])
        elif (a := _ANSWER.match(line)):
            block.fields.append(["Correct answer", "", a.group(1)])
        else:
            block.fields[-1][2] += "\n" + line
    if block is not None:
        yield block


def _log_native(block: _Block, rid: str, m: int, copies: list[_Block]) -> dict[str, Any]:
    fields = [(k, n, t.strip()) for k, n, t in block.fields]
    steps, final_answer, meta = steps_from_fields(fields[1:])
    native: dict[str, Any] = {"id": rid, "goal": fields[0][2], "steps": steps,
                              "final_answer": final_answer}
    if block.section is not None:
        native.update(label(block.section == "CORRECT"))
        if block.section in _FAILURE:
            native["failure_reason"] = _FAILURE[block.section]
    meta.update({k: v for k, v in (("trial", block.trial), ("question_number", m),
                                   ("section", block.section)) if v is not None})
    if len(copies) > 1:          # copies[0] is this block; the others were not read again
        meta["copies_at_lines"] = [b.line for b in copies[1:]]
        also = [b.section for b in copies[1:] if b.section not in (None, block.section)]
        if also:
            meta["also_listed_under"] = also
    native["metadata"] = meta
    return native


# --- shared by both sources -----------------------------------------------------------------

def steps_from_fields(fields: list[Field]) -> tuple[list[dict], str, dict[str, Any]]:
    """(steps, final answer, metadata) from Thought/Action/Observation fields in order.

    >>> s, ans, meta = steps_from_fields([("Thought", "1", "look"), ("Action", "1", "Search[x]"),
    ...     ("Observation", "1", "x is 3"), ("Action", "2", "Finish[3]")])
    >>> s[0]["action"], s[0]["action_input"], s[0]["observation"], ans
    ('Search', {'argument': 'x'}, 'x is 3', '3')
    """
    steps: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    thought, final_answer, finished, waiting = "", "", False, False
    for kind, number, text in fields:
        if kind == "Thought":
            thought = f"{thought}\n{text}" if thought else text
        elif kind == "Action":
            name, argument = parse_action(text)
            if name.lower() == "finish":
                final_answer, finished, waiting = argument, True, False
                meta["final_thought"], thought = thought, ""
                continue
            steps.append({"thought": thought, "action": name,
                          "action_input": {"argument": argument}, "observation": ""})
            thought, waiting = "", True
        elif kind == "Observation" and waiting:
            steps[-1]["observation"], waiting = text, False
        elif kind == "Observation" and finished:
            meta["finish_observation"] = text
        elif kind == "Observation":
            raise RecordError(f"Observation {number}".strip(), "no Action before it")
        elif kind == "Correct answer":
            meta["gt"] = text
    if thought:
        meta["trailing_thought"] = thought
    return steps, final_answer, meta


def parse_action(text: str) -> tuple[str, str]:
    """'Search[Nick Park]' -> ('Search', 'Nick Park'); a line without brackets is all name.

    >>> parse_action("Finish[Creature Comforts]"), parse_action("think more")
    (('Finish', 'Creature Comforts'), ('think more', ''))
    """
    line = text.split("\n", 1)[0]
    m = _ACTION.match(line)
    return (m.group(1), m.group(2)) if m else (line.strip(), "")


def fields_of(text: str, unlabeled: str) -> list[Field]:
    """The Thought/Action/Observation fields of one chat message's text.

    Text before any label is a field of kind `unlabeled` (a thought from the assistant, an
    observation from the environment).

    >>> fields_of("Thought: a\\nb\\nAction: search[x]", "Thought")
    [('Thought', '', 'a\\nb'), ('Action', '', 'search[x]')]
    >>> fields_of("no label", "Observation")
    [('Observation', '', 'no label')]
    """
    out: list[list[str]] = []
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m:
            out.append([m.group(1), m.group(2) or "", m.group(3)])
        elif out:
            out[-1][2] += "\n" + line
        elif line.strip():
            out.append([unlabeled, "", line])
    return [(k, n, t.strip()) for k, n, t in out]
