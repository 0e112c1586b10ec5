"""`agenther-local judge`: ask local judges one yes/no question about one run, and show the numbers.

For trying a goal, a prompt or a model by hand: the prompt goes through the same context guard
(`judges.context.fit`) and the same threshold choice as the jury (calibrated in the manifest,
else the paper's θ), but no cache, so the timings are real.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from . import cli
from .. import adapters
from ..adapters import FORMATS
from ..config import JURY_PRESETS
from ..errors import AgentherError, InputFileError, ModelError
from ..prompts import Prompts
from ..trajectory import Trajectory

# `judge` without --model asks the "fast" jury's models: the ones installed with the package.
DEFAULT_PRESET = "fast"
_SHOWN_IDS = 5          # ids listed when --id matches nothing


def _check_models(ctx, param, value: tuple[str, ...]) -> tuple[str, ...]:
    from ..judges.manifest import get_manifest
    for name in value:
        try:
            get_manifest(name)
        except ModelError as e:
            raise click.BadParameter(str(e)) from None
    return value


def _check_prompt(ctx, param, value: str) -> str:
    try:
        Prompts().path(value)
    except AgentherError as e:
        raise click.BadParameter(str(e)) from None
    return value


def default_models() -> list[str]:
    """The distinct models that decide acceptance in the default preset (its self-check, then
    its jurors), strongest first."""
    preset = JURY_PRESETS[DEFAULT_PRESET]
    names = [preset.get("self_check") or preset["writer"]] + [token.partition("@")[0] for token in preset["jurors"]]
    return list(dict.fromkeys(names))


def pick_record(path: Path, fmt: str, rid: str | None) -> tuple[str, Trajectory]:
    """(where, trajectory): the first valid record of the file, or the one with id `rid`."""
    ids: list[str] = []
    first_problem = ""
    for where, got in adapters.read(path, fmt):
        if not isinstance(got, Trajectory):
            first_problem = first_problem or str(got)
            continue
        if rid is None or got.id == rid:
            return where, got
        ids.append(got.id)
    if rid is None:
        raise InputFileError(f"{path}: no valid record (first problem: {first_problem or 'the file has no records'})")
    shown = ", ".join(ids[:_SHOWN_IDS]) + (f", … ({len(ids)} in all)" if len(ids) > _SHOWN_IDS else "")
    raise InputFileError(f"{path}: no record with id '{rid}' (known: {shown or 'none'}); pass one with --id")


@cli.command()
@click.option("--goal", required=True, help="The goal (request) to judge against the run.")
@click.option("--trajectory", "trajectory_file", required=True, type=click.Path(path_type=Path),
              help="File holding the run (any format `convert` reads).")
@click.option("--id", "rid", default=None, help="Id of the run in the file (default: the first valid one).")
@click.option("--model", "model_names", multiple=True, callback=_check_models,
              help="Judge model, repeatable (default: the fast jury's models).")
@click.option("--prompt", default="verify", show_default=True, callback=_check_prompt,
              help="Template in prompts/ that asks the yes/no question.")
@click.option("--from", "fmt", type=click.Choice(("auto",) + FORMATS), default="auto", show_default=True,
              help="Format of the trajectory file.")
@click.option("--n-ctx", type=click.IntRange(min=512), default=None, help="Context size of every judge.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line instead of a table.")
def judge(goal: str, trajectory_file: Path, rid: str | None, model_names: tuple[str, ...], prompt: str,
          fmt: str, n_ctx: int | None, as_json: bool) -> None:
    """Score one goal against one run with local judges: P(yes), timing, threshold, verdict."""
    from ..config import Config
    from ..judges.context import fit
    from ..judges.jury import Jury
    from ..pipeline import judge_loader, make_juror

    where, traj = pick_record(trajectory_file, fmt, rid)
    cfg = Config() if n_ctx is None else Config().replace("runtime", n_ctx=n_ctx)
    load, _ = judge_loader(cfg, None)          # local GGUF or HTTP manifest; no cache: real timings
    prompts = Prompts()
    results = []
    # Nothing is printed until every model has answered: a model that fails to load gives one
    # error line, not half a table.
    for name in dict.fromkeys(model_names or default_models()):
        juror = make_juror(load, name, prompt, cfg)
        j = juror.judge
        # Same answer reserve as the jury, so the same runs get cut the same way. The first
        # count_tokens in fit() loads the model (a GGUF llama.cpp cannot load is a ModelError).
        rendered, cuts = fit(j, prompts, prompt, traj, Jury.answer_reserve, goal=goal)
        s = j.p_yes(rendered)
        stats = getattr(j, "stats", None)
        results.append({
            "model": j.id, "p_yes": round(s.p_yes, 6), "mass_yes": round(s.p_yes * s.mass, 6),
            "mass_no": round((1 - s.p_yes) * s.mass, 6), "top_token": s.top_token,
            "prompt_tokens": s.prompt_tokens, "reused_tokens": s.reused_tokens,
            "seconds": round(s.seconds, 3), "load_seconds": round(stats.load_seconds, 3) if stats else 0.0,
            "threshold": juror.threshold, "threshold_source": juror.threshold_source,
            "verdict": "yes" if s.p_yes >= juror.threshold else "no",
            "cuts": [c.__dict__ for c in cuts]})
    head = {"id": traj.id, "where": where, "goal": goal, "prompt": prompt}
    if as_json:
        click.echo(json.dumps({**head, "results": results}, ensure_ascii=False))
        return
    click.echo(f"run {traj.id} ({where}), {len(traj.steps)} steps; prompt {prompt}")
    click.echo(f"goal: {goal}")
    _print_table(results)


def _print_table(results: list[dict]) -> None:
    rows = [("model", "P(yes)", "mass yes", "mass no", "top token", "tokens", "seconds", "threshold", "verdict")]
    for r in results:
        rows.append((r["model"], f"{r['p_yes']:.3f}", f"{r['mass_yes']:.3f}", f"{r['mass_no']:.3f}",
                     repr(r["top_token"]), str(r["prompt_tokens"]), f"{r['seconds']:.2f}",
                     f"{r['threshold']:.3f} ({r['threshold_source']})", r["verdict"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    for r in results:
        for c in r["cuts"]:
            what = "final answer" if c["step"] == -1 else f"step {c['step'] + 1} observation"
            click.echo(f"{r['model']}: context guard cut the {what} from {c['original_chars']} "
                       f"to {c['kept_chars']} characters")
