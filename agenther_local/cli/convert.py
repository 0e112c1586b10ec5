"""`agenther-local convert`: agent runs in foreign formats -> native JSONL.

Parses options and calls `adapters.batch.convert_files`; records that cannot be read go to a
sidecar next to the output (`OUT.invalid.jsonl`, one {"where", "reason"} per line).
"""
from __future__ import annotations

from pathlib import Path

import click

from ..adapters import FORMATS, WRITERS
from ..adapters.batch import convert_files, invalid_path, invalid_row
from ..adapters.labels import load_labels
from ..jsonl import write_jsonl_atomic
from ..progress import progress_bar
from . import cli


@cli.command()
@click.option("--from", "fmt", type=click.Choice(("auto",) + FORMATS), default="auto",
              show_default=True,
              help="Input format; auto tells each file's format from its content.")
@click.option("--to", "to", type=click.Choice(tuple(WRITERS)), default="native", show_default=True,
              help="Output format: native JSONL, or agenther (the AgentHER reference code's).")
@click.option("--labels", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Success labels kept apart from the runs (SWE-bench report or results.json, "
                   "or {id: true|false}), joined on instance id.")
@click.option("--branches", is_flag=True,
              help="ToolBench: also write every abandoned branch of the search tree as a "
                   "failed run.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Native JSONL to write.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
def convert(fmt: str, to: str, labels: Path | None, branches: bool, output: Path, quiet: bool,
            inputs: tuple[Path, ...]) -> None:
    """Convert agent runs (any --from format) to native JSONL or AgentHER's format."""
    bar = progress_bar(None, "record", "convert", quiet=quiet)
    try:
        result = convert_files(inputs, fmt, branches=branches, labels=load_labels(labels) if labels else None,
                               progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    write = WRITERS[to]
    written = write_jsonl_atomic(output, (write(t) for t in result.trajectories))
    sidecar = invalid_path(output)
    # an old sidecar next to a new output would blame this run for someone else's records
    if result.invalid or sidecar.exists():
        write_jsonl_atomic(sidecar, (invalid_row(e) for e in result.invalid))
    for counts in result.files:
        click.echo(counts.line())
    tail = (f"; {len(result.invalid)} records not converted, listed in {sidecar}"
            if result.invalid else "")
    click.echo(f"wrote {written} trajectories to {output}{tail}")
