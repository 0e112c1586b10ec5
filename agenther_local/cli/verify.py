"""`agenther-local verify`: check each constraint of a goal against a run's tool outputs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from . import cli
from ._common import format_choice
from .judge import pick_record


@cli.command()
@click.option("--goal", required=True, help="The goal to verify (a hindsight goal, or your own).")
@click.option("--trajectory", "path", required=True, type=click.Path(path_type=Path), help="File holding the run.")
@click.option("--id", "rid", default=None, help="Record id in the file (default: the first record).")
@click.option("--from", "source_format", default="auto", type=format_choice(), help="Input format.")
@click.option("--model", default=None, help="Constraint juror for names/codes no value matched (default: none: value match only).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line: {accepted, constraints (one per clause: type, rule, bound_to, values), reason}.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Verify against the run's first N steps, its answer written from the evidence, as a sample cut there "
                   "(a goal of --goals-per-run: metadata.shaping.cut_after_step + 1).")
def verify(goal, path, rid, source_format, model, as_json, steps):
    """Show each constraint of a goal with its tool evidence, method and verdict."""
    from ..config import Config
    from ..errors import AgentherError
    from ..pipeline import judge_loader, make_juror
    from ..stages.verify import verify_goal

    if not goal.strip():
        raise AgentherError("--goal is empty: nothing to verify")
    _, traj = pick_record(path, source_format, rid)
    juror = None
    if model:
        cfg = Config()
        load, _ = judge_loader(cfg, None)
        juror = make_juror(load, model, "constraint", cfg)
    if steps is not None:
        if steps > len(traj.steps):
            raise AgentherError(f"--steps {steps}: run '{traj.id}' in {path} has only {len(traj.steps)} steps")
        traj = traj.upto(steps)
    v = verify_goal(goal, traj, juror, answer_written=steps is not None)
    if as_json:
        click.echo(json.dumps(v.to_dict(), ensure_ascii=False))
    else:
        click.echo(f"goal: {goal}")
        click.echo(f"run:  {traj.id} ({len(traj.evidence_steps)} tool outputs)")
        for c in v.constraints:
            mark = "ok  " if c.holds else "FAIL"
            click.echo(f"  [{mark}] {c.type or c.kind} {c.text!r} via {c.method}: {c.detail}")
            for val in c.values:
                where = f"step {val['step']} {val['path']}: {val['text']!r}" if val["found"] else "not found"
                click.echo(f"         {val['value']!r} ({val['kind']}): {where}")
        click.echo(("ACCEPTED: " if v.accepted else "REJECTED: ") + v.reason)
    if not v.accepted:
        raise SystemExit(1)
