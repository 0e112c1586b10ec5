"""The jury: N jurors (GGUF models, or one model under several prompt "perspectives") vote on
whether a hindsight goal is true of a run.

A juror's vote is P(yes) >= its threshold. The threshold is, in order: `--accept-threshold`
if given, else the juror's calibrated threshold for its prompt (stored in the model's manifest
by `agenther-local eval calibrate`), else the paper's θ = 0.5. SPEC: raw P(yes) is not
calibrated (Qwen-0.5B never passes 0.5, Qwen-1.5B gives off-topic goals 0.57), so the paper's
fixed θ is a last resort, and the source of each threshold is kept with every vote.

Rules:
- "majority": accept on a strict majority of votes; stop asking as soon as it is decided.
- "strongest": a strict majority, and the first juror (list the strongest first) must say yes.
- "mean": accept when the mean P(yes) reaches the mean threshold (asks everyone).
- "all": unanimity (stops at the first no).
Confidence is the mean P(yes) of the jurors asked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..prompts import Prompts
from ..trajectory import Trajectory
from .base import Judge
from .context import Cut, fit

RULES = ("majority", "strongest", "mean", "all")


@dataclass(frozen=True)
class Juror:
    judge: Judge
    prompt: str                 # template name, e.g. "verify"
    threshold: float
    threshold_source: str       # "calibrated <date> (precision 0.95)", "paper θ", "--accept-threshold"

    @property
    def id(self) -> str:
        return f"{self.judge.id}@{self.prompt}"


@dataclass(frozen=True)
class Vote:
    juror: str
    p_yes: float
    threshold: float
    threshold_source: str
    vote: bool
    mass: float
    top_token: str
    prompt_tokens: int
    cached: bool
    cuts: tuple[Cut, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"juror": self.juror, "p_yes": round(self.p_yes, 6), "threshold": self.threshold,
                "threshold_source": self.threshold_source, "vote": self.vote, "mass": round(self.mass, 6),
                "top_token": self.top_token, "prompt_tokens": self.prompt_tokens, "cached": self.cached,
                "cuts": [c.__dict__ for c in self.cuts]}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    confidence: float
    votes: tuple[Vote, ...]
    rule: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "confidence": round(self.confidence, 6), "rule": self.rule,
                "reason": self.reason, "votes": [v.to_dict() for v in self.votes]}


@dataclass
class Jury:
    jurors: list[Juror]
    rule: str = "majority"
    prompts: Prompts = field(default_factory=Prompts)
    answer_reserve: int = 8

    def __post_init__(self) -> None:
        if not self.jurors:
            raise ValueError("a jury needs at least one juror")
        if self.rule not in RULES:
            raise ValueError(f"unknown jury rule {self.rule!r} (known: {', '.join(RULES)})")

    @property
    def ids(self) -> list[str]:
        return [j.id for j in self.jurors]

    def ask(self, juror: Juror, traj: Trajectory, goal: str) -> Vote:
        rendered, cuts = fit(juror.judge, self.prompts, juror.prompt, traj, self.answer_reserve, goal=goal)
        s = juror.judge.p_yes(rendered)
        return Vote(juror.id, s.p_yes, juror.threshold, juror.threshold_source, s.p_yes >= juror.threshold,
                    s.mass, s.top_token, s.prompt_tokens, s.cached, cuts)

    def decide(self, traj: Trajectory, goal: str) -> Verdict:
        n = len(self.jurors)
        need = n // 2 + 1
        votes: list[Vote] = []
        for k, juror in enumerate(self.jurors):
            v = self.ask(juror, traj, goal)
            votes.append(v)
            yes = sum(x.vote for x in votes)
            no = len(votes) - yes
            if self.rule == "all" and not v.vote:
                break
            if self.rule == "strongest" and k == 0 and not v.vote:
                break
            if self.rule in ("majority", "strongest") and (yes >= need or no > n - need):
                break
        return self._verdict(votes, n, need)

    def _verdict(self, votes: list[Vote], n: int, need: int) -> Verdict:
        yes = sum(v.vote for v in votes)
        conf = sum(v.p_yes for v in votes) / len(votes)
        tally = f"{yes}/{len(votes)} jurors asked voted yes (of {n})"
        if self.rule == "mean":
            mean_t = sum(v.threshold for v in votes) / len(votes)
            ok = conf >= mean_t
            return Verdict(ok, conf, tuple(votes), self.rule,
                           f"mean P(yes) {conf:.3f} {'>=' if ok else '<'} mean threshold {mean_t:.3f}; {tally}")
        if self.rule == "all":
            ok = yes == n
        elif self.rule == "strongest":
            ok = yes >= need and votes[0].vote
            if not votes[0].vote:
                return Verdict(False, conf, tuple(votes), self.rule,
                               f"strongest juror {votes[0].juror} voted no (P(yes) {votes[0].p_yes:.3f} < {votes[0].threshold:.3f})")
        else:
            ok = yes >= need
        return Verdict(ok, conf, tuple(votes), self.rule, ("accepted: " if ok else "rejected: ") + tally)
