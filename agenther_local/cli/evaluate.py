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
@click.option("--max-runs", type=click.IntRange(min=2), default=None, help="Successful runs used per file.")
@click.option("--obs-chars", type=click.IntRange(min=50), default=None, help="Cut observations to N characters.")
def make_pairs_cmd(inputs, output, source_format, seed, max_runs, obs_chars):
    """Build positive / off-topic / perturbed pairs from SUCCESSFUL runs."""
    from ..adapters import read
    from ..errors import AgentherError
    from ..evaluate import make_pairs
    from ..jsonl import write_jsonl_atomic
    from ..judges.context import cap_observations
    from ..trajectory import Trajectory

    pairs = []
    for path in inputs:
        runs = [t for _, t in read(path, source_format) if isinstance(t, Trajectory)]
        if obs_chars:
            runs = [cap_observations(t, obs_chars)[0] for t in runs]
        made = make_pairs(runs, seed=seed, max_runs=max_runs)
        kinds = {}
        for p in made:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        click.echo(f"{path}: {sum(t.is_success for t in runs)} successful runs -> " +
                   ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
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
def judges_cmd(pairs_file, output, jury, rule, gates, target_precision, split, accept_threshold):
    """Run gates + jury on every pair; write precision, recall, AUC, ECE, κ, cost per kind."""
    from ..config import Config
    from ..errors import AgentherError
    from ..evaluate import evaluate_jury, read_pairs
    from ..jsonl import write_json_atomic
    from ..pipeline import PipelineOptions, build_pipeline

    pairs = read_pairs(pairs_file)
    if split != "all":
        pairs = [p for p in pairs if p.split == split]
    if not any(p.label for p in pairs):
        raise AgentherError(f"{pairs_file}: no positive pair{' in the ' + split + ' split' if split != 'all' else ''}; "
                            "precision and recall need positives")
    pipe, judges, _ = build_pipeline(PipelineOptions(jury=jury, rule=rule, rule_based=True,
                                                     accept_threshold=accept_threshold), Config())
    result = evaluate_jury(pairs, pipe, judges, gates=gates, target_precision=target_precision)
    write_json_atomic(output, result)
    o = result["overall"]
    click.echo(f"{len(pairs)} pairs: precision {o['precision']:.3f}, recall {o['recall']:.3f}, "
               f"AUC {o['auc']:.3f}, ECE {o['ece']:.3f}; written to {output}")
    for kind, k in result["by_kind"].items():
        click.echo(f"  {kind:<12} n={k['n']:<4} precision {k['precision']:.3f} recall {k['recall']:.3f} AUC {k['auc']:.3f}")
