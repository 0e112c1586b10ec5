"""`agenther-local eval`: labelled pairs from real runs, and how well a jury judges them."""
from __future__ import annotations

from pathlib import Path

import click

from . import cli
from ._common import format_choice


@cli.group("eval")
def eval_group() -> None:
    """Measure judges on labelled (goal, run) pairs made from your own runs."""


@eval_group.command("make-pairs")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PAIRS.jsonl to write.")
@click.option("--from", "source_format", default="auto", type=format_choice(), help="Input format.")
@click.option("--seed", type=int, default=0, help="Seed of pairing and of the test split.")
@click.option("--max-runs", type=click.IntRange(min=2), default=None, help="Successful (and failed) runs used per input format.")
@click.option("--obs-chars", type=click.IntRange(min=50), default=None, help="Cut observations to N characters.")
@click.option("--branches", is_flag=True, help="ToolBench: abandoned search branches as failed runs.")
def make_pairs_cmd(inputs, output, source_format, seed, max_runs, obs_chars, branches):
    """Build labelled pairs: positive, off_topic, perturbed, over_claim (from successful runs) and
    unmet_original (failed runs whose failure shows in the run)."""
    from ..adapters import detect_format, read
    from ..errors import AgentherError
    from ..evaluate import make_pairs
    from ..jsonl import write_jsonl_atomic
    from ..judges.context import cap_observations
    from ..trajectory import Trajectory

    by_format: dict[str, list[Trajectory]] = {}
    for path in inputs:
        fmt = detect_format(path) if source_format == "auto" else source_format
        runs = [t for _, t in read(path, fmt, branches=branches) if isinstance(t, Trajectory)]
        if obs_chars:
            runs = [cap_observations(t, obs_chars)[0] for t in runs]
        click.echo(f"{path}: {sum(t.is_success is True for t in runs)} successful, "
                   f"{sum(t.is_success is False for t in runs)} failed runs")
        by_format.setdefault(fmt, []).extend(runs)
    pairs = []
    for fmt, runs in by_format.items():     # off-topic and carried-over goals come from the same format
        made = make_pairs(runs, seed=seed, max_runs=max_runs)
        kinds: dict[str, int] = {}
        for p in made:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        click.echo(f"{fmt}: " + (", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "no pairs"))
        pairs += made
    if not any(p.label for p in pairs):
        raise AgentherError("no successful run in the input: positives come from runs labelled successful")
    n = write_jsonl_atomic(output, [p.to_dict() for p in pairs])
    test = sum(p.split == "test" for p in pairs)
    click.echo(f"{n} pairs written to {output} ({test} in the test split)")


@eval_group.command("judges")
@click.argument("pairs_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="EVAL.json to write.")
@click.option("--jury", default="fast", help="Preset or comma list of model[@prompt].")
@click.option("--rule", default=None, help="Jury rule (majority, strongest, mean, all).")
@click.option("--gates/--no-gates", default=True, help="Grounding and on-topic gates in front of the jury.")
@click.option("--target-precision", type=click.FloatRange(0, 1), default=0.95, help="Report the θ reaching this precision.")
@click.option("--split", type=click.Choice(["all", "calibration", "test"]), default="all", help="Which pairs to judge.")
@click.option("--accept-threshold", type=click.FloatRange(0, 1), default=None, help="θ for every juror.")
@click.option("--compare", "compare_jurors", default=None, metavar="MODEL@PROMPT,...",
              help="Compare these jurors alone, as juries under every rule, and behind the gates and the "
                   "evidence check (thresholds fitted on the calibration split, measured on the test split).")
@click.option("--constraint-models", default="", metavar="MODEL,...",
              help="With --compare: models asked the narrow per-constraint questions.")
@click.option("--write-thresholds", is_flag=True,
              help="With --compare: store each juror's calibrated θ in its model manifest.")
@click.option("--obs-chars", type=click.IntRange(min=50), default=None,
              help="With --compare: the holistic jurors see observations cut to N characters (the evidence "
                   "checks always read them whole).")
def judges_cmd(pairs_file, output, jury, rule, gates, target_precision, split, accept_threshold, compare_jurors,
               constraint_models, write_thresholds, obs_chars):
    """Run gates + jury on every pair; write precision, recall, AUC, ECE, κ, cost per kind."""
    from ..config import Config
    from ..errors import AgentherError, ConfigError
    from ..evaluate import evaluate_jury, read_pairs
    from ..jsonl import write_json_atomic
    from ..pipeline import PipelineOptions, build_pipeline

    pairs = read_pairs(pairs_file)
    if split != "all":
        pairs = [p for p in pairs if p.split == split]
    if not any(p.label for p in pairs):
        raise AgentherError(f"{pairs_file}: no positive pair{' in the ' + split + ' split' if split != 'all' else ''}; "
                            "precision and recall need positives")
    if compare_jurors is not None:
        _compare(pairs_file, pairs, output, compare_jurors, constraint_models, target_precision, write_thresholds,
                 obs_chars)
        return
    if obs_chars:
        raise ConfigError("--obs-chars applies to --compare only")
    pipe, judges, _ = build_pipeline(PipelineOptions(jury=jury, rule=rule, rule_based=True,
                                                     accept_threshold=accept_threshold), Config())
    from ..progress import progress_bar

    bar = progress_bar(len(pairs), "pair", "judge")
    try:
        result = evaluate_jury(pairs, pipe, judges, gates=gates, target_precision=target_precision,
                               progress=bar.update)
    finally:
        bar.close()
    write_json_atomic(output, result)
    o = result["overall"]
    click.echo(f"{len(pairs)} pairs: precision {o['precision']:.3f}, recall {o['recall']:.3f}, "
               f"AUC {o['auc']:.3f}, ECE {o['ece']:.3f}; written to {output}")
    for kind, k in result["by_kind"].items():
        click.echo(f"  {kind:<12} n={k['n']:<4} precision {k['precision']:.3f} recall {k['recall']:.3f} AUC {k['auc']:.3f}")


def _compare(pairs_file, pairs, output, jurors_spec, constraint_spec, target_precision, write_thresholds,
             obs_chars=None) -> None:
    import datetime
    import hashlib

    from ..compare import compare, score_pairs, table
    from ..config import Config
    from ..embeddings import SentenceEmbedder
    from ..errors import ConfigError
    from ..jsonl import write_json_atomic
    from ..judges.cache import CallCache
    from ..judges.manifest import Calibration, get_manifest, verify, write_calibration
    from ..paths import cache_dir
    from ..pipeline import judge_loader
    from ..prompts import Prompts
    from ._common import progress_factory

    jurors = [j.strip() if "@" in j else f"{j.strip()}@verify" for j in jurors_spec.split(",") if j.strip()]
    models = [m.strip() for m in constraint_spec.split(",") if m.strip()]
    if not jurors and not models:
        raise ConfigError("--compare: name at least one juror (MODEL@PROMPT)")
    if not any(p.split == "calibration" for p in pairs) or not any(p.split == "test" for p in pairs):
        raise ConfigError(f"{pairs_file}: --compare needs pairs in both the calibration and the test split")
    prompts = Prompts()
    for j in jurors:
        prompts.path(j.partition("@")[2])
    for name in {j.partition("@")[0] for j in jurors} | set(models):
        verify(get_manifest(name))       # a missing or broken model fails here, in one line
    cfg = Config()
    load, _ = judge_loader(cfg, CallCache(cache_dir() / "calls.sqlite"))
    judges = {name: load(name) for name in {j.partition("@")[0] for j in jurors} | set(models)}
    bar_factory = progress_factory(False, unit="pair", desc="judge")
    bar = bar_factory(len(pairs)) if bar_factory else None
    rows = score_pairs(pairs, judges, jurors, models, prompts, SentenceEmbedder(), cfg.gates, cfg.detect,
                       bar.update if bar else None, obs_chars)
    if bar:
        bar.close()
    result = compare(rows, jurors, models, target_precision)
    result["rows"] = rows
    result["pairs_file"] = str(pairs_file)
    digest = hashlib.sha256(pairs_file.read_bytes()).hexdigest()
    result["pairs_sha256"] = digest
    result["juror_obs_chars"] = obs_chars
    write_json_atomic(output, result)
    for line in table(result):
        click.echo(line)
    click.echo(f"written to {output}")
    if write_thresholds:
        # each juror's holistic θ, and each constraint model's θ for the narrow questions
        fitted = [(j, j) for j in jurors] + [(f"{m}@constraint", f"evidence[{m}]") for m in models]
        for juror_id, config_name in fitted:
            c = result["configurations"][config_name]
            name, _, prompt = juror_id.partition("@")
            m = get_manifest(name)
            write_calibration(m, Calibration(prompt, c["threshold"], target_precision, digest,
                                             datetime.date.today().isoformat(), result["pairs"]["calibration"],
                                             c["calibration"]["precision"], c["calibration"]["recall"]))
            click.echo(f"{m.manifest_path}: calibration for {prompt!r}: θ = {c['threshold']:.6f}")
