"""`agenther-local validate`: check input files before a run, without loading any model.

Reads every record the way `run` and `convert` do (`adapters.batch.convert_files`, which also
flags an id already read earlier, in this file or another) and prints each problem as its
RecordError line, `file:line: field: what is wrong`.
"""
from __future__ import annotations

from pathlib import Path

import click

from . import cli
from ..adapters import FORMATS
from ..adapters.batch import convert_files


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--from", "fmt", type=click.Choice(("auto",) + FORMATS), default="auto", show_default=True,
              help="Input format; auto tells each file's format from its content.")
def validate(files: tuple[Path, ...], fmt: str) -> None:
    """Check that every record of the input files can be read; print each problem."""
    result = convert_files(files, fmt)
    read = sum(c.read for c in result.files)
    stepless = sum(c.stepless for c in result.files)
    where = f"{_count(read, 'record')} in {_count(len(files), 'file')}"
    for e in result.invalid:
        click.echo(e.line())
    # a run without a tool step is well-formed, only useless for relabeling: said, not failed
    tail = f" ({stepless} without a tool step: nothing to relabel)" if stepless else ""
    if len(result.invalid) > stepless:
        raise click.ClickException(f"{len(result.invalid) - stepless} of {where} are invalid{tail}")
    click.echo(f"{where}, all valid{tail}")


def _count(n: int, noun: str) -> str:
    """
    >>> _count(1, "file"), _count(3, "record")
    ('1 file', '3 records')
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"
