"""`agenther-local train dpo|sft OUT --model M`: fine-tune on an output folder (needs `[train]`)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from . import cli


def _options(f):
    for option in reversed([
        click.argument("data", type=click.Path(exists=True, path_type=Path)),
        click.option("--model", required=True, help="Hugging Face model folder, GGUF file, or model name (e.g. smollm2-135m)."),
        click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Where the adapter (or model) goes (default: DATA/train-KIND)."),
        click.option("--chat-template", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="Jinja template rendering tool calls (default: the model's, or ChatML with tools)."),
        click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, help="Passes over the data (default 1)."),
        click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Stop after N optimizer steps (overrides --epochs)."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate (paper: 5e-5 DPO, 2e-4 SFT)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Rows per step before accumulation (default 1)."),
        click.option("--grad-accum", type=click.IntRange(min=1), default=None, help="Steps accumulated per update (default 8)."),
        click.option("--max-length", type=click.IntRange(min=16), default=None, help="Longer rows are skipped and counted (default 4096)."),
        click.option("--full", is_flag=True, help="Train every weight instead of a LoRA adapter (r=16, α=32)."),
        click.option("--seed", type=int, default=None, help="Seed (default 0)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]):
        f = option(f)
    return f


@cli.group("train")
def train_group() -> None:
    """Fine-tune a model on an output folder (pip install 'agenther-local[train]')."""


def _run(kind: str, data: Path, model: str, output_dir, chat_template, full, quiet, **overrides) -> None:
    from ..config import TrainConfig
    from ..train.run import TrainOptions, train

    cfg = TrainConfig()
    names = {"epochs": "epochs", "batch_size": "batch_size", "grad_accum": "grad_accum",
             "max_length": "max_length", "seed": "seed", "lr": f"{kind}_learning_rate"}
    changes = {names[k]: v for k, v in overrides.items() if k in names and v is not None}
    if overrides.get("beta") is not None:
        changes["beta"] = overrides["beta"]
    result = train(TrainOptions(kind, data, model, output_dir, chat_template, overrides.get("max_steps"),
                                full, quiet, dataclasses.replace(cfg, **changes)))
    losses = result.losses
    trend = f"; loss {losses[0]:.4f} -> {losses[-1]:.4f}" if losses else ""
    click.echo(f"{result.summary}; {result.steps} steps{trend}; saved to {result.output_dir}/")


@train_group.command("dpo")
@_options
@click.option("--beta", type=click.FloatRange(min=0, min_open=True), default=None, help="DPO β (paper 0.1).")
def train_dpo(**kw) -> None:
    """Goal-contrast DPO on DATA/dpo.jsonl: w-weighted, agent tokens only."""
    _run("dpo", **kw)


@train_group.command("sft")
@_options
def train_sft(**kw) -> None:
    """Weighted SFT on DATA/sft.jsonl: agent tokens only, loss scaled by w."""
    _run("sft", **kw)
