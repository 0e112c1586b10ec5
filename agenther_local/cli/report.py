"""`agenther-local report`: rebuild OUTDIR/report.html from the run's journal and manifest."""
from __future__ import annotations

from pathlib import Path

import click

from . import cli


@cli.command()
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
def report(outdir: Path) -> None:
    """Write OUTDIR/report.html from journal.jsonl and manifest.json (no judge model is called)."""
    from ..report import write_report

    click.echo(f"wrote {write_report(outdir)}")
