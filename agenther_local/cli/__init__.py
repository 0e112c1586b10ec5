"""The `agenther-local` command group. Each command lives in its own module and only parses
options and calls the library; AgentherError becomes a one-line `Error: ...` (exit 1)."""
from __future__ import annotations

import click

from ..errors import AgentherError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AgentherError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=_Group)
@click.version_option(package_name="agenther-local")
def cli() -> None:
    """Turn failed agent trajectories into SFT/DPO/ShareGPT data with local judges."""


def _register() -> None:
    # Imported here, not at module top, so `import agenther_local.cli` stays cheap;
    # the commands themselves load models lazily.
    from . import commands  # noqa: F401  (each module adds itself to `cli`)


def main() -> None:
    _register()
    cli()
