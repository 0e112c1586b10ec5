"""One trajectory through the four stages: detect -> extract -> relabel -> (package later).

`Pipeline.process(traj)` returns the journal entry of that record: status, the stage that
decided, the reason in checkable words, and every stage's decision. It never raises for a
problem of one record: a model failure becomes status "error" with its message.
`build_pipeline` assembles the real one (local judges, cache, embedder) from options; tests
assemble one from fakes.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import DEFAULT_JURY, JURY_PRESETS, Config
from .embeddings import Embedder
from .errors import AgentherError, ConfigError
from .judges.base import Judge
from .judges.jury import RULES, Juror, Jury
from .prompts import Prompts
from .stages.detect import Detector, JudgeDetector, RuleDetector, detect_failure
from .stages.extract import Extractor, JudgeExtractor, RuleExtractor, extract_outcome
from .evidence.grounding import check_grounding
from .stages.relabel import Relabel, relabel_from_plans, relabel_goal
from .trajectory import Trajectory


@dataclass
class Pipeline:
    cfg: Config
    detector: Detector
    extractor: Extractor
    writer: Judge
    self_juror: Juror
    jury: Jury | None
    embedder: Embedder
    prompts: Prompts
    seed: int = 0
    include_successes: bool = False
    constraint_juror: Juror | None = None
    paraphraser: Judge | None = None   # rewords goals built from plans; None keeps the template's words
    model_writer: bool = True          # False (`--rule-based`, the fast preset): no model writes a goal a plan could not
    shaped: bool = True                # samples are cut and answered from their goal's evidence (not --keep-trajectory)
    timings: dict[str, float] = field(default_factory=dict)

    def _time(self, stage: str, t0: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def process(self, traj: Trajectory) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": traj.id, "record": traj.to_dict()}
        try:
            return self._process(traj, entry)
        except AgentherError as e:
            entry.update(status="error", stage=entry.get("stage", "relabel"), reason=str(e))
            return entry

    def _process(self, traj: Trajectory, entry: dict[str, Any]) -> dict[str, Any]:
        if traj.is_success:
            status = "success" if self.include_successes else "skipped_success"
            entry.update(status=status, stage="detect", reason="the run succeeded (benchmark label)",
                         weight=1.0)
            return entry
        entry["stage"] = "detect"
        t0 = time.perf_counter()
        failure = detect_failure(traj, self.detector, self.cfg.detect)
        self._time("detect", t0)
        entry["failure"] = failure.to_dict()
        entry["weight"] = failure.quality_weight
        if failure.discarded:
            entry.update(status="rejected", reason=failure.reason)
            return entry
        entry["stage"] = "extract"
        t0 = time.perf_counter()
        outcome = extract_outcome(traj, self.extractor, self.cfg.detect)
        self._time("extract", t0)
        entry["outcome"] = outcome.to_dict()
        if not outcome.facts and not outcome.achievements:
            entry.update(status="rejected", reason="no achievement or verified fact in the tool outputs")
            return entry
        entry["stage"] = "relabel"
        t0 = time.perf_counter()
        rl = None
        if self.cfg.relabel.plan_first:
            rl = relabel_from_plans(traj, self.prompts, self.cfg.relabel, self.cfg.evidence, self.paraphraser, self.seed,
                                    self.embedder if self.cfg.relabel.goals_per_run > 1 else None, self.shaped)
        if (rl is None or not rl.accepted) and not self.model_writer:
            rl = rl or Relabel(False, None, 0.0, "no plan from the evidence, and no model writes free-text goals "
                               "(--rule-based or the fast preset; --jury strong does)", ())
        elif rl is None or not rl.accepted:
            earlier = rl.attempts if rl is not None else ()
            rl = relabel_goal(traj, outcome, self.writer, self.self_juror, self.jury, self.embedder, self.prompts,
                              self.cfg.relabel, self.cfg.gates, self.seed, self.constraint_juror, self.cfg.evidence)
            if earlier:
                rl = dataclasses.replace(rl, attempts=tuple(earlier) + rl.attempts)
        self._time("relabel", t0)
        entry["relabel"] = rl.to_dict()
        entry.update(status="accepted" if rl.accepted else "rejected", reason=rl.reason,
                     goal=rl.goal, confidence=rl.confidence)
        if len(rl.goals) > 1:
            entry["goals"] = list(rl.goals)
        return entry


def deciding_jury(pipe: "Pipeline") -> Jury:
    """The jurors that decide acceptance: the jury, or in single-judge mode the self-check."""
    return pipe.jury if pipe.jury is not None else Jury([pipe.self_juror], prompts=pipe.prompts)


def unsupported_answer(share: float):
    """Specifics of the final answer that no tool output shows and no succeeded write call
    carried (the code a run wrote is evidence of what it did), when they are more than `share`."""
    from .evidence.model import written_arguments

    def check(traj: Trajectory) -> list[str]:
        if not traj.final_answer.strip():
            return []
        g = check_grounding(traj.final_answer, traj, written_arguments(traj))
        if g.specifics and len(g.missing) / len(g.specifics) > share:
            return [s.text for s in g.missing]
        return []
    return check


def parse_jury(spec: str) -> dict[str, Any]:
    """`--jury` value -> {"writer", "rule", "jurors"}: a preset name or "model[@prompt],...".

    >>> parse_jury("smollm2-135m,qwen2.5-coder-0.5b@verify_goal_first")["jurors"]
    ['smollm2-135m@verify', 'qwen2.5-coder-0.5b@verify_goal_first']
    """
    if spec in JURY_PRESETS:
        return dict(JURY_PRESETS[spec])
    jurors = [s.strip() if "@" in s else f"{s.strip()}@verify" for s in spec.split(",") if s.strip()]
    if not jurors:
        raise ConfigError(f"empty jury {spec!r}")
    return {"writer": jurors[0].split("@")[0], "rule": "majority", "jurors": jurors}


@dataclass
class PipelineOptions:
    jury: str = DEFAULT_JURY
    writer: str | None = None
    rule: str | None = None
    rule_based: bool | None = None     # None: the jury preset's choice ("stages"), else LLM
    no_model: bool = False             # plans only: no model writes, rewords or checks a goal (`--rule-based`)
    accept_threshold: float | None = None
    prompts_dir: Path | None = None
    use_cache: bool = True
    seed: int = 0
    include_successes: bool = False
    single_judge: bool = False      # the paper's one-judge mode: the self-check's c alone decides
    shaped: bool = True             # False (`--keep-trajectory`): samples keep whole runs, so no prefix goals


def judge_loader(cfg: Config, cache: Any) -> tuple[Callable[[str], Judge], dict[str, Judge]]:
    """(load(name), loaded): one judge per model name, local GGUF or HTTP, behind the call cache."""
    from .judges.cache import CachedJudge
    from .judges.llama import LlamaJudge
    from .judges.manifest import get_manifest

    judges: dict[str, Judge] = {}

    def judge(name: str) -> Judge:
        if name not in judges:
            m = get_manifest(name)
            if m.source["kind"] == "http":
                from .judges.http import HttpJudge
                j: Judge = HttpJudge(name, m.source["url"], m.source["model"], m.context_length,
                                     os.environ.get(m.source.get("api_key_env", ""), None) if m.source.get("api_key_env") else None)
            else:
                j = LlamaJudge(m, cfg.runtime)
            judges[name] = CachedJudge(j, cache) if cache else j
        return judges[name]
    return judge, judges


def make_juror(judge: Callable[[str], Judge], name: str, prompt: str, cfg: Config,
               override: float | None = None) -> Juror:
    """The one place a juror's threshold is chosen, in this order: the `--accept-threshold`
    flag, `[relabel] accept_threshold` in the config, the model manifest's calibration for
    this prompt, and the paper's θ = 0.5 (uncalibrated). `judge` loads the model (local GGUF
    or HTTP manifest alike)."""
    from .judges.manifest import get_manifest

    m = get_manifest(name)
    if override is not None:
        return Juror(judge(name), prompt, override, "--accept-threshold")
    if cfg.relabel.accept_threshold is not None:
        return Juror(judge(name), prompt, cfg.relabel.accept_threshold, "config accept_threshold")
    cal = m.threshold_for(prompt)
    if cal is not None:
        return Juror(judge(name), prompt, cal.threshold,
                     f"calibrated {cal.date} on {cal.n_pairs} pairs (precision {cal.target_precision})")
    return Juror(judge(name), prompt, cfg.relabel.paper_threshold, "paper θ = 0.5 (uncalibrated)")


def build_pipeline(opts: PipelineOptions, cfg: Config):
    """The real pipeline: local GGUF judges (shared per model), the call cache, MiniLM."""
    from .embeddings import SentenceEmbedder
    from .judges.cache import CallCache
    from .paths import cache_dir

    prompts = Prompts(opts.prompts_dir)
    cache = CallCache(cache_dir() / "calls.sqlite") if opts.use_cache else None
    judge, judges = judge_loader(cfg, cache)

    spec = parse_jury(opts.jury)
    rule = opts.rule or spec["rule"]
    if rule not in RULES:
        raise ConfigError(f"unknown jury rule '{rule}' (known: {', '.join(RULES)})")

    def juror(token: str) -> Juror:
        name, _, prompt = token.partition("@")
        prompt = prompt or "verify"
        prompts.path(prompt)   # fail early on an unknown template
        return make_juror(judge, name, prompt, cfg, opts.accept_threshold)

    writer_name = opts.writer or spec["writer"]
    # The self-check scores each draft (c); the paper's is the writer itself. A preset may give
    # it to a stronger model than the writer ("fast": the 0.5B writes, the 1.5B checks).
    check_name = spec.get("self_check") or writer_name
    self_juror = juror(f"{check_name}@verify")
    jurors = [juror(t) for t in spec["jurors"]]
    jury = None if opts.single_judge or not jurors else Jury(jurors, rule=rule, prompts=prompts)
    unsupported = unsupported_answer(cfg.detect.unsupported_answer_share)
    rule_based = opts.rule_based if opts.rule_based is not None else spec.get("stages", "llm") == "rule"
    if rule_based:
        detector: Detector = RuleDetector(cfg.detect, unsupported)
        extractor: Extractor = RuleExtractor()
    else:
        detector = JudgeDetector(judge(writer_name), prompts, cfg.detect, opts.seed, unsupported)
        extractor = JudgeExtractor(judge(writer_name), prompts, opts.seed)
    # Narrow per-constraint questions go to the first (strongest) juror's model.
    constraint_model = (spec["jurors"][0] if jury is not None else check_name).split("@")[0]
    constraint_juror = juror(f"{constraint_model}@constraint")
    # `--rule-based` given by the user: no model at all (plans only); rule stages alone
    # (`--rule-stages`, a preset's) still let the writer reword plans and write goals for runs
    # no plan covers.
    no_model = opts.no_model
    fallback = cfg.relabel.writer_fallback if cfg.relabel.writer_fallback is not None else \
        spec.get("writer_fallback", True) or opts.writer is not None
    pipe = Pipeline(cfg, detector, extractor, judge(writer_name), self_juror, jury, SentenceEmbedder(), prompts,
                    opts.seed, opts.include_successes, constraint_juror,
                    paraphraser=None if no_model or not cfg.relabel.paraphrase else judge(writer_name),
                    model_writer=not no_model and fallback, shaped=opts.shaped)
    return pipe, judges, cache


def build_for_worker(opts: PipelineOptions, cfg: Config) -> tuple[Pipeline, Any]:
    """(pipeline, call cache) for one engine worker (a Ray actor): models load in the worker."""
    pipe, _, cache = build_pipeline(opts, cfg)
    return pipe, cache
