"""Every number that changes behaviour, with where it comes from.

Defaults are the paper's values (AgentHER, Ding 2026) unless a comment says they were
measured here; a stage reads `cfg.accept_threshold`, never a literal. A TOML file given with
`--config` overrides any field: section names are the dataclass names in snake case
(`[relabel]`, `[detect]`, `[gates]`, `[evidence]`, `[runtime]`, `[run]`).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class DetectConfig:
    discard_below: float = 0.3        # δ: w < δ is a MAJOR flaw, discarded (paper §3.1)
    rule_base_weight: float = 0.3     # rule mode: w = min(1, base + per_hit * hits) (paper)
    rule_weight_per_hit: float = 0.1  # paper
    # An observation shorter than this (stripped) carries nothing to relabel from; a run with
    # no longer one is "not recoverable". Chosen so "OK"/"[]"/"None" do not count.
    min_substantive_chars: int = 20
    # A final answer is unsupported (a hallucination, a major flaw) when more than this share of
    # its specifics occurs in no tool output. SPEC: an unsupported final answer is low w.
    unsupported_answer_share: float = 0.5


@dataclass(frozen=True)
class RelabelConfig:
    accept_threshold: float | None = None  # θ; None = each judge's calibrated threshold from its
                                           # manifest, else the paper's 0.5 (see judges/jury.py)
    paper_threshold: float = 0.5      # θ = 0.5: the paper's best threshold (§5.4)
    max_attempts: int = 3             # K = 3 (paper)
    first_temperature: float = 0.3    # attempt 1 (paper)
    retry_temperature: float = 0.7    # attempts 2..K (paper)
    judge_temperature: float = 0.0    # the independent judge is greedy (paper); P(yes) needs no sampling
    fallback_factor: float = 0.8      # after K attempts accept the best only if c >= 0.8 θ (paper)
    # Token budget of the writer's JSON. None = the bound of the schema (judges/generation.py:
    # the longest JSON it admits, one token per character), so no draft is ever cut; a number
    # below that bound shrinks the schema's string bounds to fit it instead. The former fixed
    # 160 cut drafts the schema allowed (~300 tokens): demo10 lost both its attempts that way.
    max_goal_tokens: int | None = None
    # A draft cut at the budget or stopped as degenerate (judges/generation.py) is journaled with
    # its own status and drawn again with another seed, up to this many times per attempt k;
    # it does not use up one of the K attempts.
    max_redraws: int = 2
    # Template of the writer. "relabel" shows facts only (small writers copy the original goal
    # when they see it: see the template's comment); "relabel_with_original" is the paper's.
    template: str = "relabel"
    # Departure from the paper: the fallback attempt (c in [0.8θ, θ)) still needs the jury's
    # yes. False restores the paper's behaviour (accept on the writer's c alone).
    fallback_jury: bool = True
    # Goals built from the evidence first (stages/plan.py): all the run's successful writes, or
    # a question one record answers, worded by prompts/goal.j2 and verified; the model writer
    # only for runs no plan verifies (SPEC: small writers word goals badly). False = the paper.
    plan_first: bool = True
    # Let the writer model reword a verified plain request; kept only if it binds the same calls
    # and records (no new claim). False keeps the template's wording (no model call).
    paraphrase: bool = True
    # the paraphrase's token budget; the schema's 400-character goal shrinks to fit it
    # (judges/generation.py fit_budget), so a draft is never cut mid-JSON
    max_paraphrase_tokens: int = 200
    # Hindsight goals per failed run (HER's "episode" and "future" strategies, stages/plan.py):
    # up to this many verified plans, each its own sample (a prefix plan's sample is cut after
    # its last step). 1 = one goal per run, as in the paper.
    goals_per_run: int = 1
    # Two goals of one run closer than this (MiniLM cosine) are near-duplicates: the later one
    # is dropped. Measured by bench/label_quality.py --goals-per-run (tau-bench and demo plan
    # goals): see the README, "Several goals per run".
    max_goal_cosine: float = 0.9
    # Runs no plan verifies: let the writer model draft a free-text goal (then gates, verifier,
    # self-check). None = the jury preset's choice ("fast": no; "strong": yes).
    writer_fallback: bool | None = None


@dataclass(frozen=True)
class GateConfig:
    # cosine(hindsight goal, extracted outcome) must reach this. Measured by bench/gates.py on
    # 312 pairs from FireAct, Reflexion and tau-bench runs (rule outcome, MiniLM): at 0.25 it
    # keeps 83% of true goals and rejects 87% of off-topic ones (0.35: 65% / 100%). Off-topic
    # goals with specifics are also stopped by grounding, so this is the backstop.
    min_outcome_cosine: float = 0.25
    # A goal this close to the original goal is a near-copy unless its specifics differ.
    # SPEC: the original failed goal scores 0.85 against the outcome; near-copies of the
    # goal itself score above 0.9 (bench/gates.py).
    max_original_cosine: float = 0.92
    # Meta words: a user never asks about "the trajectory". "tool-using assistant" and "the
    # given facts" come from our own writer prompt, echoed by a small writer (SWE-agent fixture
    # runs; the demo: "Find the exact number of deprecated functions in the given facts").
    banned_phrases: tuple[str, ...] = ("the agent", "trajectory", "hindsight", "original goal",
                                       "the assistant", "the ai", "the model", "tool-using assistant",
                                       "an assistant", "a tool-using", "given facts", "the facts above",
                                       "these facts", "numbers of facts", "number of facts")


@dataclass(frozen=True)
class EvidenceConfig:
    # A goal for a run that made successful writes must ask for every one of them (SPEC, "What
    # counts as evidence": leaving one out teaches the agent to act unasked). False relaxes it.
    require_all_writes: bool = True
    # Tool names the verb rules misread, by name: calls that change state / that only read.
    write_tools: tuple[str, ...] = ()
    read_tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageConfig:
    """How a browser agent's pages are cut into records (evidence/pages.py)."""
    # The smallest element whose text fits here is one record (a list row, a form field with its
    # label): a Gmail inbox row is 150-250 characters, a whole inbox 20k (browser_use fixtures).
    unit_chars: int = 400
    # Lines of text above an element that name its section ("Conversation View / Group emails
    # into conversations" over its two radio buttons).
    heading_lines: int = 2
    # Characters of a record's text kept in a write's effect (the banner, the toggled element).
    effect_chars: int = 300


@dataclass(frozen=True)
class RuntimeConfig:
    n_ctx: int = 4096                 # judge prompts are ~350 tokens; runs get shortened to fit
    n_threads: int | None = None      # None = llama.cpp's default (physical cores)
    # Layers offloaded to the GPU. None = all (-1) when llama.cpp was built with a GPU backend
    # (`llama_supports_gpu_offload()`: CUDA, Metal, Vulkan ...), else 0; a CPU build ignores it.
    n_gpu_layers: int | None = None
    seed: int = 0
    batch_size: int = 512
    # Degenerate repetition stops a draft early (judges/generation.py `repetition`). Measured:
    # none of the 891 user goals of the shared fixtures trips them, written as a draft whose
    # goal, part and rationale all repeat it (tests/test_generation.py); a loop repeats its
    # phrase every cycle ("facts that are not only facts but also facts ...": the 3rd cycle).
    repeat_ngram: int = 4             # words per n-gram checked inside one string value
    repeat_limit: int = 3             # the same n-gram this often inside one string = a loop
    repeat_values: int = 4            # the same string value this often = a loop (goal = part = rationale is 3)
    repeat_unit_chars: int = 8        # a unit of up to 8 characters ...
    repeat_tail: int = 8              # ... repeated 8 times at the end of the draft ...
    repeat_tail_chars: int = 16       # ... over at least 16 characters ("1111111111111111") = a loop


@dataclass(frozen=True)
class TrainConfig:
    """`agenther-local train dpo|sft` (agenther_local/train/). Not part of a run's Config: training
    reads a finished output folder, and a run's journal header should not change with it."""
    beta: float = 0.1                 # DPO β (paper's fine-tuning setup, SPEC "training")
    dpo_learning_rate: float = 5e-5   # paper
    sft_learning_rate: float = 2e-4   # paper
    lora_r: int = 16                  # paper: LoRA r=16
    lora_alpha: int = 32              # paper: α=32
    lora_dropout: float = 0.05        # PEFT's usual value; the paper gives none
    epochs: float = 1.0               # one pass: the paper's data sizes; raise it for small sets
    batch_size: int = 1               # rows per device step; agent runs are long
    grad_accum: int = 8               # effective batch 8 on one CPU/GPU
    max_length: int = 4096            # tokens per side; longer sides keep their start (and are counted)
    seed: int = 0


# Seconds between two progress lines when stderr is not a terminal (agenther_local/progress.py):
# often enough that a log shows a live job, rarely enough that a 10-hour run logs ~3,600 lines.
PROGRESS_LOG_EVERY_S = 10.0

# Named juries for `--jury`. A juror is "model@prompt" (prompt = a template in prompts/). The
# writer drafts hindsight goals and self-scores them (c); the jurors then vote. Lists start with
# the strongest juror (the "strongest" rule needs it first). Chosen by measurement: README,
# "Choosing the default juries", and bench/label_quality.py.
JURY_PRESETS: dict[str, dict] = {
    # Measured (README "Choosing the default juries"): Qwen-0.5B@verify reached AUC 0.80 on 112
    # FireAct/tau-bench pairs, but only 0.56 on the 146 pairs of 5 kinds (over-claims, unmet
    # originals); its calibrated θ accepted 0 of 8 test positives, and on the 12 demo runs it
    # accepted none (its P(yes) sits at 0.32-0.38 for every goal). SmolLM2 0.56-0.62. So the
    # acceptance check of "fast" is the calibrated Qwen-1.5B (`self_check`), the only juror with
    # a usable ranking, and the cheap 0.5B only writes: the checks are those of "strong".
    # Stages 1-2 rule-based: on examples/demo.jsonl the 0.5B extractor gave 0 verified facts in
    # 10 runs (every quote missing from its observation) and the 0.5B detector typed 8 of 10
    # runs "tool_error"; the rules cost no model call.
    # Goals from plans only, reworded by the 0.5B (bench/pipeline.py, fast, no cache, demo + 42
    # tau-bench failures: the free-text fallback added 0 accepted goals to the 37 the plans
    # give, and took most of the time). The 1.5B self-check above is asked only when free-text
    # drafts are turned on (`[relabel] writer_fallback`, `--writer`).
    "fast": {"writer": "qwen2.5-coder-0.5b", "self_check": "qwen2.5-coder-1.5b", "rule": "majority",
             "jurors": [], "stages": "rule", "writer_fallback": False},
    # Measured (bench/label_quality.py, 146 pairs of 5 kinds, README table): Qwen-1.5B@verify is
    # the only juror with a usable ranking (test AUC 0.84: off-topic 1.00, over-claim 0.93,
    # perturbed 0.90, unmet original 0.72); every vote with the 0.5B or SmolLM2 (majority,
    # strongest, all) accepted no test positive, and the quality-weighted mean did no better
    # than the 1.5B alone. So "strong" is the calibrated 1.5B as single judge (writer, self-check
    # and narrow constraint questions), behind the gates and per-constraint verification: test
    # precision 1.00 (0 of 31 false goals) at recall 0.25 (2 of 8 true goals).
    "strong": {"writer": "qwen2.5-coder-1.5b", "rule": "majority", "jurors": [], "stages": "rule"},
}
DEFAULT_JURY = "fast"


@dataclass(frozen=True)
class Config:
    detect: DetectConfig = field(default_factory=DetectConfig)
    relabel: RelabelConfig = field(default_factory=RelabelConfig)
    gates: GateConfig = field(default_factory=GateConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def replace(self, section: str, **changes: Any) -> "Config":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def load_config(path: Path | None, extra: dict[str, Any] | None = None) -> tuple[Config, dict[str, Any]]:
    """Read a TOML config. Returns the Config and the non-stage tables (e.g. `[run]` options).

    Unknown sections or keys are errors that name the file and the key.
    """
    cfg = Config()
    rest: dict[str, Any] = {}
    if path is None:
        return cfg, rest
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    for section, values in data.items():
        if section == "run":
            rest = dict(values)
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}] (known: run, {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        known = {f.name: f for f in dataclasses.fields(getattr(cfg, section))}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{path}: [{section}] unknown key '{key}' (known: {', '.join(known)})")
            _check_type(path, section, key, getattr(cfg, section).__dict__[key], value)
        cfg = cfg.replace(section, **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    if cfg.relabel.goals_per_run < 1:
        raise ConfigError(f"{path}: [relabel] goals_per_run must be at least 1, not {cfg.relabel.goals_per_run}")
    return cfg, rest


def _check_type(path: Path, section: str, key: str, default: Any, value: Any) -> None:
    """A value of the default's type (an int where a float goes; anything where the default is None)."""
    if default is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            (isinstance(default, float) or isinstance(value, int))
    elif isinstance(default, tuple):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{path}: [{section}] {key} = {value!r}: expected {type(default).__name__}, "
                          f"like the default {default!r}")
