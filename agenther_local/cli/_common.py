"""Helpers shared by commands: format choice, progress bars, the summary table."""
from __future__ import annotations

from pathlib import Path

import click

def format_choice() -> click.Choice:
    """`--from`: auto, then every adapter in the registry."""
    from ..adapters import FORMATS
    return click.Choice(("auto",) + FORMATS)


def progress_factory(quiet: bool, unit: str = "traj", desc: str = "relabel"):
    """total -> a progress bar (tqdm on a terminal, a line every few seconds in a log); None when quiet."""
    if quiet:
        return None
    from ..progress import progress_bar
    return lambda total: progress_bar(total, unit, desc)


def print_summary(s, outdir: Path) -> None:
    c = s.counts
    failures = sum(v for k, v in c.items() if k in ("accepted", "rejected", "error"))
    line = (f"{s.read} read, {s.invalid} invalid, {c.get('skipped_success', 0) + c.get('success', 0)} successful, "
            f"{c.get('skipped_unlabeled', 0)} unlabeled (skipped), {failures} failures, "
            f"{c.get('accepted', 0)} accepted, {c.get('rejected', 0)} rejected, {c.get('error', 0)} errors")
    click.echo(line)
    if s.resumed:
        click.echo(f"resumed: {s.resumed} record(s) taken from the journal")
    if s.resumed and s.resumed_with_other_config:
        changed = s.resumed_with_other_config
        click.echo(f"  note: they were decided with other settings ({', '.join(changed[:4])}"
                   f"{f' and {len(changed) - 4} more' if len(changed) > 4 else ''}); delete {outdir} "
                   "or choose another OUTDIR to decide them again", err=True)
    for path, fmt in s.detected.items():
        click.echo(f"  {path}: detected format {fmt}")
    if s.per_type:
        click.echo(f"  {'failure type':<22}{'accepted':>9}{'rejected':>9}{'error':>7}")
        for t, v in sorted(s.per_type.items()):
            click.echo(f"  {t:<22}{v.get('accepted', 0):>9}{v.get('rejected', 0):>9}{v.get('error', 0):>7}")
    if s.rejected_by:
        click.echo("  rejected by: " + ", ".join(f"{k} {v}" for k, v in sorted(s.rejected_by.items(), key=lambda kv: -kv[1])))
    if s.lost_drafts:
        click.echo("  writer drafts redrawn: " + ", ".join(f"{v} {k}" for k, v in sorted(s.lost_drafts.items()))
                   + " (journal: attempts with that status)")
    if s.cache:
        click.echo(f"  model-call cache: {s.cache.get('hits', 0)} hits, {s.cache.get('misses', 0)} misses")
    click.echo(f"  {s.seconds:.1f} s; output in {outdir}/ (" + ", ".join(f"{k} {v}" for k, v in s.written.items()) + ")")
