"""Stage 2, outcome extractor: what did the run actually achieve, ignoring its goal?

Returns achievements and facts, each fact with a verbatim evidence quote and the step it
comes from. A quote is kept only if it occurs (after whitespace and case normalisation) in
that step's TOOL output; facts without a verified quote are dropped and counted (`dropped`).
User turns, the agent's thoughts and its final answer are never evidence (SPEC, "Hard
negatives").

- RuleExtractor (AgentHER's rule mode, extended): every substantive, non-error tool output is
  an achievement; facts are the scalar values of JSON outputs ("suppliers[2].price: 5.3") or
  the lines of text outputs that carry a number or a name.
- JudgeExtractor: the model lists facts with quotes (constrained JSON); unverified ones are
  dropped; if none survives, the rule facts are used and `method` says so.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import DetectConfig
from ..evidence.values import json_leaves
from ..judges.base import Judge
from ..judges.context import fit
from ..judges.generation import fit_budget
from ..prompts import Prompts
from ..trajectory import Trajectory
from .detect import substantive_steps

MAX_FACTS_PER_STEP = 8
MAX_FACTS = 24
MAX_QUOTE_CHARS = 240


@dataclass(frozen=True)
class Fact:
    text: str
    quote: str      # occurs verbatim (modulo whitespace/case) in steps[step].observation
    step: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "quote": self.quote, "step": self.step}


@dataclass(frozen=True)
class Outcome:
    achievements: tuple[str, ...]
    facts: tuple[Fact, ...]
    dropped: int        # facts proposed whose quote was not found in the cited observation
    method: str

    def summary(self) -> str:
        """One text for embedding consistency checks."""
        return " ".join([*self.achievements, *(f.text for f in self.facts)])[:4000]

    def to_dict(self) -> dict[str, Any]:
        return {"achievements": list(self.achievements), "facts": [f.to_dict() for f in self.facts],
                "dropped": self.dropped, "method": self.method}


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def quote_occurs(quote: str, observation: str) -> bool:
    """Is `quote` a substring of `observation` after whitespace and case normalisation?

    >>> quote_occurs("Price:  $5.30/kg", "Supplier A. price: $5.30/kg, MOQ 50 kg")
    True
    """
    q = _norm(quote)
    return bool(q) and q in _norm(observation)


def _json_facts(obs: str, step: int) -> list[Fact] | None:
    try:
        data = json.loads(obs)
    except (json.JSONDecodeError, ValueError):
        return None
    if not isinstance(data, (dict, list)):
        return None
    facts = []
    for path, v in json_leaves(data):
        if v is None or isinstance(v, bool) or v == "":
            continue
        raw = str(v)
        if len(raw) > MAX_QUOTE_CHARS or not quote_occurs(raw, obs):
            continue
        facts.append(Fact(f"{path}: {raw}" if path else raw, raw, step))
    return facts


_INFORMATIVE = re.compile(r"\d|\b[A-Z][a-z]+\s+[A-Z]|\b[A-Z]{2,}\b")


def _text_facts(obs: str, step: int) -> list[Fact]:
    facts = []
    for line in re.split(r"(?<=[.!?])\s+|\n+", obs):
        line = line.strip(" -*•\t")
        if 12 <= len(line) <= MAX_QUOTE_CHARS and _INFORMATIVE.search(line):
            facts.append(Fact(line, line, step))
    return facts


def rule_facts(traj: Trajectory, steps: list[int]) -> list[Fact]:
    out: list[Fact] = []
    for i in steps:
        obs = traj.steps[i].observation
        facts = _json_facts(obs, i)
        if facts is None:
            facts = _text_facts(obs, i)
        out.extend(facts[:MAX_FACTS_PER_STEP])
    return out[:MAX_FACTS]


def _achievement(traj: Trajectory, i: int) -> str:
    s = traj.steps[i]
    args = json.dumps(s.action_input, ensure_ascii=False)[:120]
    obs = re.sub(r"\s+", " ", s.observation).strip()[:160]
    return f"step {i}: {s.action} {args} returned: {obs}"


class Extractor(Protocol):
    def facts(self, traj: Trajectory, steps: list[int]) -> tuple[list[Fact], int, str]:
        """(verified facts, dropped count, method)."""


class RuleExtractor:
    def facts(self, traj: Trajectory, steps: list[int]) -> tuple[list[Fact], int, str]:
        return rule_facts(traj, steps), 0, "rule"


class JudgeExtractor:
    SCHEMA = {"type": "object", "properties": {"facts": {"type": "array", "maxItems": 6, "items": {
        "type": "object", "properties": {"fact": {"type": "string", "maxLength": 160},
                                         "step": {"type": "integer"},
                                         "quote": {"type": "string", "maxLength": 160}},
        "required": ["fact", "step", "quote"]}}}, "required": ["facts"]}

    def __init__(self, judge: Judge, prompts: Prompts, seed: int = 0, max_tokens: int | None = None):
        # None: the schema's bound, so the list of facts is never cut (judges/generation.py)
        self.judge, self.prompts, self.seed = judge, prompts, seed
        self.schema, self.max_tokens = fit_budget(self.SCHEMA, max_tokens)

    def facts(self, traj: Trajectory, steps: list[int]) -> tuple[list[Fact], int, str]:
        rendered, _ = fit(self.judge, self.prompts, "extract", traj, self.max_tokens)
        gen = self.judge.generate_json(rendered, self.schema, 0.0, self.seed, self.max_tokens)
        kept, dropped = [], 0
        for f in (gen.data or {}).get("facts", []):
            step = f.get("step", 0) - 1   # the prompt numbers steps from 1
            quote = f.get("quote", "")
            if 0 <= step < len(traj.steps) and traj.steps[step].is_evidence and quote_occurs(quote, traj.steps[step].observation):
                kept.append(Fact(f.get("fact", quote), quote, step))
            else:
                dropped += 1
        if not kept:
            return rule_facts(traj, steps), dropped, f"rule (model {self.judge.id} gave no verified fact)"
        return kept, dropped, f"model {self.judge.id}"


def extract_outcome(traj: Trajectory, extractor: Extractor, cfg: DetectConfig) -> Outcome:
    """AgentHER outcome extractor, grounded: only facts quoted from tool outputs survive."""
    steps = substantive_steps(traj, cfg)
    facts, dropped, method = extractor.facts(traj, steps)
    return Outcome(tuple(_achievement(traj, i) for i in steps), tuple(facts), dropped, method)
