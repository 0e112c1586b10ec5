"""Stage 1, failure detector: is the run a failure, of which type, is it recoverable, and how
good is it as a demonstration (quality weight w)?

Follows AgentHER §3.1 with one meaning for w: w in [0, 1] is a quality weight, HIGH = a mild
failure = keep; w < δ (`discard_below`) is a MAJOR flaw and the run is discarded; kept runs
scale the training loss by w. (The reference code calls the same number "severity" and then
discards the LOW values, i.e. the mild failures; we do not copy that.)

Two strategies share one skeleton (`detect_failure`):
- RuleDetector: lexicons from `data/lexicons.toml`; w = min(1, 0.3 + 0.1·mild hits) as in the
  paper when no major flaw is seen, else max(0, 0.3 - 0.1·major hits) (below δ). A final
  answer whose specifics mostly do not occur in any tool output counts as a major flaw
  (hallucination): SPEC, "grounding has two sides".
- JudgeDetector: the type is a constrained choice, w = 1 - P(yes) of "does this run contain
  a MAJOR flaw?" (token probability, never a number the model writes).
Recoverability is rule-based in both: a run with no substantive, non-error tool output has
nothing to relabel from.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

from ..config import DetectConfig
from ..judges.base import Judge
from ..judges.context import fit
from ..judges.generation import fit_budget
from ..prompts import Prompts
from ..trajectory import Trajectory

FAILURE_TYPES = ("incomplete", "constraint_violation", "wrong_result", "tool_error", "hallucination", "off_topic")


@dataclass(frozen=True)
class Failure:
    is_failure: bool
    failure_type: str | None
    recoverable: bool
    quality_weight: float
    reason: str                     # checkable words: which hits, which step
    discarded: bool                 # w < δ or not recoverable
    evidence: dict[str, Any]        # hits per type, major/mild hits, unsupported specifics, P(major)

    def to_dict(self) -> dict[str, Any]:
        return {"is_failure": self.is_failure, "failure_type": self.failure_type,
                "recoverable": self.recoverable, "quality_weight": round(self.quality_weight, 4),
                "discarded": self.discarded, "reason": self.reason, "evidence": self.evidence}


@lru_cache(maxsize=1)
def lexicons() -> dict[str, Any]:
    text = resources.files("agenther_local").joinpath("data/lexicons.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _hits(text: str, phrases: list[str]) -> list[str]:
    return [p for p in phrases if p in text]


def is_error_observation(obs: str) -> bool:
    """An observation that is an error or empty result, not an achievement.

    >>> is_error_observation("Error: 503 Service Unavailable"), is_error_observation('{"price": 5.3}')
    (True, False)
    """
    s = obs.strip().lower()
    if not s:
        return True
    head = s[:80]
    phrases = lexicons()["errors"]["phrases"]
    return any(head.startswith(p) for p in phrases) or (len(s) < 120 and any(p in s for p in phrases[:8]))


def substantive_steps(traj: Trajectory, cfg: DetectConfig) -> list[int]:
    """Indices of tool steps whose output is long enough and not an error."""
    return [i for i, s in traj.evidence_steps
            if len(s.observation.strip()) >= cfg.min_substantive_chars and not is_error_observation(s.observation)]


class Detector(Protocol):
    def classify(self, traj: Trajectory) -> tuple[str, float, str, dict[str, Any]]:
        """(failure type, quality weight, reason, evidence)."""


class RuleDetector:
    """Keyword lexicons; zero model calls."""

    def __init__(self, cfg: DetectConfig, unsupported_answer: Any = None):
        self.cfg = cfg
        # callable(traj) -> list of final-answer specifics no tool output contains
        self.unsupported_answer = unsupported_answer

    def classify(self, traj: Trajectory) -> tuple[str, float, str, dict[str, Any]]:
        lex = lexicons()
        signal = " ".join([traj.failure_reason or "", traj.final_answer]).lower()
        tool_text = " ".join(s.observation for _, s in traj.evidence_steps).lower()
        per_type = {t: _hits(signal, lex["types"][t]) for t in FAILURE_TYPES}
        # Tool errors show in the observations, not in the agent's words.
        errors = [i for i, s in traj.evidence_steps if is_error_observation(s.observation)]
        if errors:
            per_type["tool_error"] = per_type["tool_error"] + [f"error output at step {i}" for i in errors]
        unsupported = list(self.unsupported_answer(traj)) if self.unsupported_answer else []
        if unsupported:
            per_type["hallucination"] = per_type["hallucination"] + [f"final answer states {u!r}, no tool output shows it" for u in unsupported]
        order = {t: k for k, t in enumerate(lex["types"])}
        ftype = max(FAILURE_TYPES, key=lambda t: (len(per_type[t]), -order.get(t, 99)))
        if not per_type[ftype]:
            ftype = "incomplete" if not traj.final_answer.strip() else "wrong_result"
        major = _hits(signal, lex["major"]["phrases"]) + [f"unsupported: {u}" for u in unsupported]
        mild = _hits(signal + " " + tool_text[:2000], lex["mild"]["phrases"])
        c = self.cfg
        if major:
            w = max(0.0, c.rule_base_weight - c.rule_weight_per_hit * len(major))
            reason = f"major flaw ({'; '.join(major[:3])}): w = {w:.2f}"
        else:
            w = min(1.0, c.rule_base_weight + c.rule_weight_per_hit * len(mild))
            reason = f"{ftype} ({', '.join(per_type[ftype][:3]) or 'no lexicon hit'}); {len(mild)} mild signal(s): w = {w:.2f}"
        return ftype, w, reason, {"hits": {t: v for t, v in per_type.items() if v}, "major": major, "mild": mild}


class JudgeDetector:
    """A local model classifies the type and scores P(major flaw)."""

    SCHEMA = {"type": "object", "properties": {"type": {"type": "string", "enum": list(FAILURE_TYPES)}},
              "required": ["type"]}

    def __init__(self, judge: Judge, prompts: Prompts, cfg: DetectConfig, seed: int = 0,
                 unsupported_answer: Any = None):
        self.judge, self.prompts, self.cfg, self.seed = judge, prompts, cfg, seed
        self.unsupported_answer = unsupported_answer

    def classify(self, traj: Trajectory) -> tuple[str, float, str, dict[str, Any]]:
        _, budget = fit_budget(self.SCHEMA)       # the longest type name always fits
        rendered, cuts = fit(self.judge, self.prompts, "detect_type", traj, budget, failure_types=FAILURE_TYPES)
        gen = self.judge.generate_json(rendered, self.SCHEMA, 0.0, self.seed, budget)
        ftype = (gen.data or {}).get("type")
        if ftype not in FAILURE_TYPES:
            ftype = "wrong_result"
        rendered, cuts2 = fit(self.judge, self.prompts, "detect", traj, 8, failure_types=FAILURE_TYPES)
        s = self.judge.p_yes(rendered)
        w = 1.0 - s.p_yes
        reason = f"{ftype} (model {self.judge.id}); P(major flaw) = {s.p_yes:.3f}: w = {w:.2f}"
        # The deterministic hallucination check overrides the model: an answer no tool output
        # supports is a major flaw whatever the judge thinks.
        unsupported = list(self.unsupported_answer(traj)) if self.unsupported_answer else []
        if unsupported:
            ftype = "hallucination"
            w = min(w, max(0.0, self.cfg.rule_base_weight - self.cfg.rule_weight_per_hit * len(unsupported)))
            reason = f"major flaw: final answer states {', '.join(map(repr, unsupported[:3]))}, no tool output shows it: w = {w:.2f}"
        return ftype, w, reason, {"p_major": s.p_yes, "type_raw": gen.text, "judge": self.judge.id,
                                  "cuts": len(cuts) + len(cuts2), "unsupported": unsupported}


def detect_failure(traj: Trajectory, detector: Detector, cfg: DetectConfig) -> Failure:
    """AgentHER failure detector: type, recoverability r, quality weight w, discard at w < δ."""
    if traj.is_success:
        return Failure(False, None, True, 1.0, "the run succeeded (benchmark label)", False, {})
    substantive = substantive_steps(traj, cfg)
    ftype, w, reason, evidence = detector.classify(traj)
    evidence = {**evidence, "substantive_steps": substantive}
    if not substantive:
        return Failure(True, ftype, False, w, "not recoverable: no tool step returned a substantive, "
                       "non-error output", True, evidence)
    if w < cfg.discard_below:
        return Failure(True, ftype, True, w, f"discarded: w = {w:.2f} < δ = {cfg.discard_below} ({reason})",
                       True, evidence)
    return Failure(True, ftype, True, w, reason, False, evidence)
