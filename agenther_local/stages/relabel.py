"""Stage 3, prompt relabeler: write a hindsight goal the run fully satisfies, then let the
gates and the jury decide. AgentHER's Algorithm 1 (θ, K = 3, temperature 0.3 then 0.7):

    for k in 1..K:
        ĝ, b = writer(τ, outcome)                 constrained JSON: goal, facts, valid, rationale
        gates(ĝ)                                  deterministic; a failing gate ends the attempt
        c = P_writer(yes | τ, ĝ)                  the writer's own token probability
        if b and c >= θ_w:  verdict = jury(τ, ĝ)
            accepted -> return ĝ with confidence (c + jury mean P) / 2
            rejected -> ĝ is vetoed: never accepted later, not even by the fallback
        elif b: remember the best such attempt
    fallback: the best remembered attempt, if c >= 0.8 θ_w and never vetoed

A draft cut at the token budget or stopped as degenerate repetition is journaled as its own
attempt (status `cut` / `degenerate`) and drawn again with a new seed, up to
`max_redraws` times, without using up one of the K attempts; the budget itself is the
schema's bound (judges/generation.py), so a plain-text draft is never cut.

Departures from the paper, on purpose:
- confidence is P(yes) from the next-token distribution, never a number the model writes
  (small models write 1.0 for everything: SPEC);
- every attempt, the fallback's included, must pass the deterministic gates;
- the reference code can bring a goal the second judge rejected back through the fallback;
  here a vetoed goal never returns (test_fallback_never_revives_a_vetoed_goal);
- by default (`fallback_jury`) the fallback attempt is still put to the jury: the fallback
  relaxes the writer's self-confidence, not the independent check. With `jury=None` (the
  paper's single-judge mode) there is no independent check, so the fallback is refused;
  `fallback_jury = false` restores the paper's acceptance on c >= 0.8θ alone.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import EvidenceConfig, GateConfig, RelabelConfig
from ..embeddings import Embedder, cosine
from ..judges.base import Generation, Judge
from ..judges.context import fit
from ..judges.generation import fit_budget
from ..judges.jury import Juror, Jury, Verdict, Vote
from ..prompts import Prompts, Rendered
from ..trajectory import Trajectory
from .extract import Outcome
from .gates import GateResult, run_gates
from .verify import Verification, verify_goal

# A draft that did not close its JSON (judges/generation.py), by Generation.finish.
LOST_STATUS = {"length": "cut", "repetition": "degenerate"}

# The writer's reply: the goal, then its parts, each citing the verified facts it rests on
# (journaled with the attempt; verify_goal binds each clause of the goal to a record or call).
SCHEMA = {
    "type": "object",
    "properties": {
        "goal": {"type": "string", "maxLength": 240},
        "constraints": {"type": "array", "minItems": 1, "maxItems": 6, "items": {
            "type": "object",
            "properties": {"part": {"type": "string", "maxLength": 120},
                           "facts": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "integer"}}},
            "required": ["part", "facts"]}},
        "valid": {"type": "boolean"},
        "rationale": {"type": "string", "maxLength": 80},
    },
    "required": ["goal", "constraints", "valid", "rationale"],
}


@dataclass(frozen=True)
class Claim:
    """One part of a written goal as the writer labels it, and the verified facts it cites
    (journaled to explain a draft; verification binds the goal's clauses itself)."""
    text: str
    facts: tuple[int, ...]
    steps: tuple[int, ...]


def parse_claims(data: dict[str, Any], outcome: Outcome) -> tuple[Claim, ...]:
    """The writer's constraints as Claims; fact numbers outside the verified facts cite nothing.

    >>> from .extract import Fact
    >>> o = Outcome((), (Fact("A costs $5", "$5", 2),), 0, "rule")
    >>> parse_claims({"constraints": [{"part": "costs $5", "facts": [1, 7]}]}, o)
    (Claim(text='costs $5', facts=(1, 7), steps=(2,)),)
    """
    claims = []
    for c in data.get("constraints") or []:
        if not isinstance(c, dict) or not str(c.get("part", "")).strip():
            continue
        facts = tuple(int(f) for f in c.get("facts") or [] if isinstance(f, int))
        steps = tuple(dict.fromkeys(outcome.facts[f - 1].step for f in facts if 1 <= f <= len(outcome.facts)))
        claims.append(Claim(str(c["part"]).strip(), facts, steps))
    return tuple(claims)


@dataclass(frozen=True)
class Attempt:
    k: int
    temperature: float
    seed: int
    goal: str | None
    valid: bool
    rationale: str
    facts: tuple[int, ...]
    raw: str
    status: str                       # accepted | unparsable | cut | degenerate | invalid | gate:<name> | vetoed |
    detail: str                       # low_confidence | repeat_of_vetoed
    gates: tuple[GateResult, ...] = ()
    self_vote: Vote | None = None     # the writer's P(yes): c
    verdict: Verdict | None = None    # the jury's decision, when asked
    verification: Verification | None = None   # per-constraint evidence (stages/verify.py)
    claims: tuple[Claim, ...] = ()    # the writer's parts of the goal and the facts each cites
    draw: int = 0                     # 0, or which redraw of attempt k after cut/degenerate drafts

    @property
    def c(self) -> float:
        return self.self_vote.p_yes if self.self_vote else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "temperature": self.temperature, "seed": self.seed, "goal": self.goal,
                "valid": self.valid, "rationale": self.rationale, "facts": list(self.facts), "status": self.status,
                "detail": self.detail, "raw": self.raw, "gates": [g.to_dict() for g in self.gates],
                "self_vote": self.self_vote.to_dict() if self.self_vote else None,
                "verdict": self.verdict.to_dict() if self.verdict else None,
                "verification": self.verification.to_dict() if self.verification else None,
                "claims": [{"part": c.text, "facts": list(c.facts), "steps": list(c.steps)} for c in self.claims],
                "draw": self.draw}


@dataclass(frozen=True)
class Relabel:
    accepted: bool
    goal: str | None
    confidence: float
    reason: str                        # why it was accepted or rejected, in checkable words
    attempts: tuple[Attempt, ...]
    via_fallback: bool = False
    fallback_verdict: Verdict | None = None

    @property
    def accepted_attempt(self) -> Attempt | None:
        return next((a for a in self.attempts if a.status == "accepted"), None)

    @property
    def goals(self) -> tuple[str, ...]:
        """Every accepted goal, first the one `goal` names (several with `goals_per_run` > 1)."""
        extra = tuple(a.goal for a in self.attempts if a.status == "accepted" and a.goal and a.goal != self.goal)
        return ((self.goal,) if self.accepted and self.goal else ()) + extra

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "goal": self.goal, "confidence": round(self.confidence, 6),
                "reason": self.reason, "via_fallback": self.via_fallback,
                "fallback_verdict": self.fallback_verdict.to_dict() if self.fallback_verdict else None,
                "attempts": [a.to_dict() for a in self.attempts]}


def attempt_seed(seed: int, traj_id: str, k: int, draw: int = 0) -> int:
    """A seed per (run seed, trajectory, attempt, redraw): results do not depend on processing
    order. Draw 0 keeps the seed attempts had before redraws existed.

    >>> attempt_seed(0, "a", 1) == attempt_seed(0, "a", 1) != attempt_seed(0, "a", 2)
    True
    >>> attempt_seed(0, "a", 1, 1) != attempt_seed(0, "a", 1)
    True
    """
    h = hashlib.sha256(f"{seed}:{traj_id}:{k}{f':{draw}' if draw else ''}".encode()).hexdigest()
    return int(h[:8], 16)


def _key(goal: str) -> str:
    return re.sub(r"\W+", " ", goal.lower()).strip()


def relabel_goal(traj: Trajectory, outcome: Outcome, writer: Judge, self_juror: Juror, jury: Jury | None,
                 embedder: Embedder, prompts: Prompts, cfg: RelabelConfig, gates: GateConfig,
                 seed: int = 0, constraint_juror: Juror | None = None,
                 evidence: EvidenceConfig | None = None) -> Relabel:
    """AgentHER relabeler: up to K attempts, gates, per-constraint verification, jury check,
    guarded fallback."""
    attempts: list[Attempt] = []
    vetoed: set[str] = set()
    best: Attempt | None = None
    theta = self_juror.threshold
    schema, budget = fit_budget(SCHEMA, cfg.max_goal_tokens, where="[relabel] max_goal_tokens")
    rendered, _ = fit(writer, prompts, cfg.template, traj, budget, outcome=outcome, original_goal=traj.goal)
    for k in range(1, cfg.max_attempts + 1):
        temp = cfg.first_temperature if k == 1 else cfg.retry_temperature
        gen, lost = _draft(writer, rendered, schema, budget, temp, seed, traj.id, k, cfg)
        attempts.extend(lost)
        if gen is None:
            continue                       # every draw of attempt k was cut or degenerate
        draw = len(lost)
        base = dict(k=k, temperature=_draw_temperature(temp, draw, cfg), seed=attempt_seed(seed, traj.id, k, draw),
                    raw=gen.text, draw=draw)
        if gen.data is None:
            attempts.append(Attempt(goal=None, valid=False, rationale="", facts=(), status="unparsable",
                                    detail=gen.error or "no JSON", **base))
            continue
        d = gen.data
        goal = str(d.get("goal", "")).strip()
        claims = parse_claims(d, outcome)
        cited = tuple(dict.fromkeys(f for c in claims for f in c.facts)) or \
            tuple(int(x) for x in d.get("facts", []) if isinstance(x, int))
        fields = dict(goal=goal, valid=bool(d.get("valid")), rationale=str(d.get("rationale", "")), facts=cited,
                      claims=claims, **base)
        if not fields["valid"]:
            attempts.append(Attempt(status="invalid", detail="the writer said no valid goal exists (b = 0)", **fields))
            continue
        if _key(goal) in vetoed:
            attempts.append(Attempt(status="repeat_of_vetoed", detail="the jury already rejected this goal", **fields))
            continue
        results = run_gates(goal, traj, outcome, embedder, gates, defer_names=constraint_juror is not None)
        if not results[-1].passed:
            failed = results[-1]
            attempts.append(Attempt(status=f"gate:{failed.name}", detail=failed.detail, gates=results, **fields))
            continue
        ver = verify_goal(goal, traj, constraint_juror, prompts, evidence)
        fields["verification"] = ver
        if not ver.accepted:
            attempts.append(Attempt(status="verify:constraint", detail=ver.reason, gates=results, **fields))
            continue
        vote = _self_vote(self_juror, jury, prompts, traj, goal)
        if vote.p_yes >= theta:
            if jury is None:
                a = Attempt(status="accepted", detail=f"c = {vote.p_yes:.3f} >= θ = {theta:.3f} (single judge)",
                            gates=results, self_vote=vote, **fields)
                attempts.append(a)
                return Relabel(True, goal, vote.p_yes, a.detail, tuple(attempts))
            verdict = jury.decide(traj, goal)
            if verdict.accepted:
                conf = (vote.p_yes + verdict.confidence) / 2
                a = Attempt(status="accepted", detail=f"c = {vote.p_yes:.3f} >= θ = {theta:.3f}; jury {verdict.reason}",
                            gates=results, self_vote=vote, verdict=verdict, **fields)
                attempts.append(a)
                return Relabel(True, goal, conf, a.detail, tuple(attempts))
            vetoed.add(_key(goal))
            attempts.append(Attempt(status="vetoed", detail=f"jury {verdict.reason}", gates=results,
                                    self_vote=vote, verdict=verdict, **fields))
            continue
        a = Attempt(status="low_confidence", detail=f"c = {vote.p_yes:.3f} < θ = {theta:.3f}", gates=results,
                    self_vote=vote, **fields)
        attempts.append(a)
        if best is None or a.c > best.c:
            best = a
    return _fallback(traj, attempts, best, vetoed, theta, jury, cfg)


def _draw_temperature(temp: float, draw: int, cfg: RelabelConfig) -> float:
    """A redraw samples at the retry temperature: a loop at 0.3 tends to come back at 0.3."""
    return temp if draw == 0 else max(temp, cfg.retry_temperature)


def _draft(writer: Judge, rendered: Rendered, schema: dict[str, Any], budget: int, temp: float, seed: int,
           traj_id: str, k: int, cfg: RelabelConfig) -> tuple[Generation | None, list[Attempt]]:
    """Attempt k's draft: drawn again (new seed) while it comes back cut or degenerate, at most
    `cfg.max_redraws` times. Returns (the first whole draft or None, the lost draws as Attempts)."""
    lost: list[Attempt] = []
    for draw in range(cfg.max_redraws + 1):
        t, s = _draw_temperature(temp, draw, cfg), attempt_seed(seed, traj_id, k, draw)
        gen = writer.generate_json(rendered, schema, t, s, budget)
        if gen.finish == "stop":
            return gen, lost
        lost.append(Attempt(k=k, temperature=t, seed=s, goal=None, valid=False, rationale="", facts=(), raw=gen.text,
                            status=LOST_STATUS[gen.finish], detail=gen.error or gen.finish, draw=draw))
    return None, lost


def relabel_from_plans(traj: Trajectory, prompts: Prompts, cfg: RelabelConfig, evidence: EvidenceConfig | None = None,
                       writer: Judge | None = None, seed: int = 0, embedder: Embedder | None = None,
                       shaped: bool = True) -> Relabel | None:
    """Hindsight goals built from the run's evidence (stages/plan.py): the plans whose plain
    request verifies, best first, up to `cfg.goals_per_run`, each reworded by `writer` when the
    rewording keeps the same bindings. A plan bound to the same calls and records as a goal
    already kept, or (with `embedder`) worded within `cfg.max_goal_cosine` of one, is a near-
    duplicate and dropped. `shaped`: samples are cut after their goal's last step and answered
    from its evidence (stages/shape.py), so plans on run prefixes are allowed; False keeps
    whole runs. None when the run has no plan at all (the model writer may be tried next).
    No holistic judge is asked: each goal is built from what the run did and bound clause by
    clause."""
    from ..evidence.model import RunEvidence
    from .plan import bindings, paraphrase, plan_goals, render_goal
    from .shape import kept_steps

    ev_cfg = evidence or EvidenceConfig()
    if not traj.evidence_steps:
        return None
    ev = RunEvidence.of(traj, ev_cfg.write_tools, ev_cfg.read_tools)
    attempts: list[Attempt] = []
    kept: list[_Kept] = []
    for k, plan in enumerate(plan_goals(traj, ev, limit=cfg.goals_per_run + 2, prefixes=shaped), start=1):
        if len(kept) >= cfg.goals_per_run:
            break
        seen = plan.run_seen(traj)
        if not seen.evidence_steps:
            continue

        def check(goal: str, seen: Trajectory = seen, written: bool = plan.prefix is not None) -> Verification:
            return verify_goal(goal, seen, None, prompts, ev_cfg, answer_written=written)
        plain = render_goal(plan, prompts)
        ver = check(plain)
        where = f"plan {k} ({plan.kind}{'' if plan.prefix is None else f', steps 1-{plan.prefix}'})"
        base = dict(k=k, temperature=0.0, seed=0, valid=True, rationale="plan: " + json.dumps(plan.to_dict()), facts=(), raw="")
        if not ver.accepted:
            attempts.append(Attempt(goal=plain, status="verify:constraint", detail=f"{where}: {ver.reason}",
                                    verification=ver, **base))
            continue
        vector = embedder.embed([plain])[0] if embedder is not None else None
        twin = _near_duplicate(bindings(ver), plan.form, vector, kept, cfg.max_goal_cosine)
        if twin:
            attempts.append(Attempt(goal=plain, status="near_duplicate", detail=f"{where}: {twin}", verification=ver,
                                    **base))
            continue
        def user_turns(goal: str, ver: Verification, plan=plan) -> list[int]:
            """Steps (1-based) of the user's words the question's sample would keep: in a
            conversation they ask for what the run was for, not for this question."""
            if not shaped or plan.kind != "lookup":
                return []
            return [i + 1 for i in kept_steps(traj, goal, ver.to_dict()) if traj.steps[i].role == "user"]
        turns = user_turns(plain, ver)
        if turns:
            attempts.append(Attempt(goal=plain, status="verify:user_turns", verification=ver, **base,
                                    detail=f"{where}: its sample would keep the user's words of the run's own "
                                           f"request (step(s) {', '.join(map(str, turns))})"))
            continue
        goal, how, raw = plain, "plain request (no paraphrase model)", ""
        if writer is not None and cfg.paraphrase:
            goal, how, raw = paraphrase(plain, ver, seen, writer, prompts, check,
                                        attempt_seed(seed, traj.id, 100 + k), cfg.max_paraphrase_tokens)
            if goal != plain:
                reworded = check(goal)
                if user_turns(goal, reworded):
                    goal, how = plain, "the rewording would keep the user's words of the run's request; plain request used"
                else:
                    ver = reworded
        detail = f"built from the evidence ({where}, {how}); {ver.reason}"
        attempts.append(Attempt(goal=goal, status="accepted", detail=detail, verification=ver,
                                **{**base, "raw": raw}))
        kept.append(_Kept(goal, bindings(ver), plan.form, vector))
    if kept:
        first = next(a for a in attempts if a.status == "accepted")
        more = f" (+{len(kept) - 1} more goal(s) of this run)" if len(kept) > 1 else ""
        return Relabel(True, first.goal, 1.0, first.detail + more, tuple(attempts))
    if attempts:
        return Relabel(False, None, 0.0, "no plan verified: " + "; ".join(a.detail for a in attempts), tuple(attempts))
    return None


@dataclass(frozen=True)
class _Kept:
    goal: str
    bound: frozenset[str]
    form: tuple | None
    vector: Any


def _near_duplicate(bound: frozenset[str], form: tuple | None, vector: Any, kept: list[_Kept],
                    max_cosine: float) -> str:
    """Why a goal repeats one already kept ('' if it does not): the same bindings, the same
    question asked of another item of the same list, or wording within `max_cosine` of it."""
    for other in kept:
        if bound == other.bound:
            return f"bound to the same calls and records as {other.goal!r}"
        if form is not None and form == other.form:
            return f"the same question of another item of the same list as {other.goal!r}"
        if vector is not None and other.vector is not None:
            sim = cosine(vector, other.vector)
            if sim >= max_cosine:
                return f"cosine {sim:.3f} >= {max_cosine} to {other.goal!r}"
    return ""


def _self_vote(self_juror: Juror, jury: Jury | None, prompts: Prompts, traj: Trajectory, goal: str) -> Vote:
    return Jury([self_juror], prompts=prompts).ask(self_juror, traj, goal)


def _fallback(traj: Trajectory, attempts: list[Attempt], best: Attempt | None, vetoed: set[str], theta: float,
              jury: Jury | None, cfg: RelabelConfig) -> Relabel:
    floor = cfg.fallback_factor * theta
    if best is None:
        why = "; ".join(f"attempt {a.k}: {a.status} ({a.detail})" for a in attempts)
        return Relabel(False, None, 0.0, f"no attempt passed: {why}", tuple(attempts))
    if _key(best.goal or "") in vetoed:
        return Relabel(False, None, 0.0, "fallback refused: the jury rejected this goal in another attempt",
                       tuple(attempts))
    if best.c < floor:
        return Relabel(False, None, best.c, f"fallback refused: best c = {best.c:.3f} < 0.8θ = {floor:.3f}",
                       tuple(attempts))
    if not cfg.fallback_jury:
        return Relabel(True, best.goal, best.c, f"fallback: attempt {best.k}, c = {best.c:.3f} >= 0.8θ = {floor:.3f}",
                       tuple(attempts), via_fallback=True)
    if jury is None:
        # With one calibrated judge, accepting below its threshold would spend the precision
        # the calibration bought; the fallback needs an independent yes, and there is none.
        return Relabel(False, None, best.c, f"fallback refused: attempt {best.k}, c = {best.c:.3f} >= 0.8θ = "
                       f"{floor:.3f}, but single-judge mode has no independent jury to confirm it", tuple(attempts))
    verdict = jury.decide(traj, best.goal or "")
    if verdict.accepted:
        return Relabel(True, best.goal, (best.c + verdict.confidence) / 2,
                       f"fallback: attempt {best.k}, c = {best.c:.3f} >= 0.8θ = {floor:.3f}; jury {verdict.reason}",
                       tuple(attempts), via_fallback=True, fallback_verdict=verdict)
    return Relabel(False, None, best.c, f"fallback refused by the jury: {verdict.reason}", tuple(attempts),
                   via_fallback=True, fallback_verdict=verdict)
