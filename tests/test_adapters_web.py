"""Web adapters on the shared fixtures: browser-use task folders and AgentLab experiment folders,
and the restricted unpickler AgentLab's pickles go through.

Expected numbers come from the raw files (json for browser-use; summary_info.json and the
step file names for AgentLab), never from the adapter under test.
"""
from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local import adapters
from agenther_local.adapters import agentlab, browser_use, safe_pickle
from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401  (registers the commands)
from agenther_local.errors import RecordError

from test_adapters import FIXTURES

BU = FIXTURES / "browser_use_webarena_infinity"
AL = FIXTURES / "agentlab_browsergym"
E6 = BU / "linear-account-settings" / "gemini_20260219_022152_parallel" / "task_e6"


def raw_tasks() -> dict[str, tuple[dict, dict]]:
    """task folder (relative to BU) -> (history.json, result.json), read with json only."""
    return {str(h.parent.relative_to(BU)): (json.loads(h.read_text()), json.loads((h.parent / "result.json").read_text()))
            for h in sorted(BU.rglob("history.json"))}


def read_all(path):
    return list(adapters.read(path))


def test_every_browser_use_task_converts_with_its_label():
    raw = raw_tasks()
    got = {str(Path(w).relative_to(BU)): t for w, t in read_all(BU)}
    assert set(got) == set(raw) and not [t for t in got.values() if isinstance(t, RecordError)]
    for name, (hist, res) in raw.items():
        t = got[name]
        assert t.goal == res["instruction"]
        crashed = res["verifier_message"].startswith("Verifier exception")
        assert t.success == (None if crashed else res["passed"])
        if res["passed"] is False and not crashed:
            assert t.failure_reason == res["verifier_message"]
        acts = [a for h in hist["history"] for a in (h.get("model_output") or {}).get("action") or []]
        assert len(t.steps) == sum("done" not in a for a in acts)
        done = [a["done"]["text"] for a in acts if "done" in a]
        assert t.final_answer == (done[-1] if done else res["final_result"] or "")
    failed = [n for n, (_, r) in raw.items() if r["passed"] is False and not r["verifier_message"].startswith("Verifier exception")]
    assert len([t for t in got.values() if t.success is False]) == len(failed)


def test_an_observation_is_the_page_the_next_step_saw_never_the_agents_own_words():
    hist, res = raw_tasks()[str(E6.relative_to(BU))]
    (_, t), = read_all(E6)
    items = hist["history"]
    # step k of this run is item k's single action; its observation holds item k+1's URL and elements
    for k in range(len(t.steps)):
        nxt = items[k + 1]
        assert f"=== page: {nxt['state']['url']} | {nxt['state']['title']} ===" in t.steps[k].observation
    claims = [items[k]["model_output"].get(f) for k in range(1, len(items)) for f in ("evaluation_previous_goal", "memory")]
    for c in filter(None, claims):
        assert all(c not in s.observation for s in t.steps)
    assert "<agent_history>" not in "".join(s.observation for s in t.steps)


def test_folders_and_files_are_detected_by_content():
    assert adapters.detect_format(BU) == "browser_use"
    assert adapters.detect_format(E6) == "browser_use"
    assert adapters.detect_format(E6 / "history.json") == "browser_use"
    assert adapters.detect_format(AL) == "agentlab"
    (_, from_file), = read_all(E6 / "history.json")
    (_, from_dir), = read_all(E6)
    assert from_file.steps == from_dir.steps and from_file.success == from_dir.success


def test_agentlab_folders_convert_with_one_step_per_action():
    runs = sorted(p.parent for p in AL.rglob("summary_info.json"))
    got = {Path(w).name: t for w, t in read_all(AL)}
    assert sorted(got) == [p.name for p in runs]
    for p in runs:
        summary = json.loads((p / "summary_info.json").read_text())
        t = got[p.name]
        assert not isinstance(t, RecordError)
        # one step per agent action (n_steps), after the page the environment opened
        assert len(t.steps) == summary["n_steps"] + 1 and t.steps[0].action == "goto"
        assert t.reward == summary["cum_reward"] and t.success is (summary["cum_reward"] >= 1 and not summary["err_msg"])
        assert all("=== page: " in s.observation for s in t.steps)
    t = got[next(p.name for p in runs if "click-checkboxes_20" in p.name)]
    assert t.goal == "Select SQkB, ug and click Submit."
    assert [s.action_input.get("bid") for s in t.steps[1:]] == ["18", "30", "33"]


# ------------------------------------------------------------------ the restricted unpickler

class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    boom = _Boom()
    boom.marker = marker
    data = pickle.dumps({"obs": boom})
    with pytest.raises(safe_pickle.UnsafePickle, match="refuses global (os|posix).system"):
        safe_pickle.load(data)
    assert not marker.exists()
    for bad in (b"cbuiltins\neval\n(S'1+1'\ntR.", b"csubprocess\ncall\n(S'true'\ntR."):
        with pytest.raises(safe_pickle.UnsafePickle):
            safe_pickle.load(bad)


def test_classes_of_other_modules_become_plain_stubs_without_importing_them():
    # a pickle naming a module that does not exist here: a stub with the state, no import
    crafted = (b"\x80\x02cno_such_module.deep\nStepInfo\nq\x00)\x81q\x01}q\x02(X\x06\x00\x00\x00actionq\x03"
               b"X\x0b\x00\x00\x00click('12')q\x04ub.")
    got = safe_pickle.load(crafted)
    assert isinstance(got, dict) and got.stub_of == "no_such_module.deep.StepInfo" and got["action"] == "click('12')"
    assert "no_such_module" not in __import__("sys").modules


def test_a_pickle_that_cannot_be_read_is_one_error_naming_its_file(tmp_path):
    src = next(p.parent for p in AL.rglob("step_0.pkl.gz"))
    run = tmp_path / src.name
    shutil.copytree(src, run)
    (run / "step_1.pkl.gz").write_bytes(gzip.compress(b"\x80\x04not a pickle"))
    (where, err), = read_all(run)
    assert isinstance(err, RecordError) and "step_1.pkl.gz" in str(err) and "\n" not in str(err)
    boom = _Boom()
    boom.marker = tmp_path / "ran"
    (run / "step_1.pkl.gz").write_bytes(gzip.compress(pickle.dumps(boom)))
    (where, err), = read_all(run)
    assert "step_1.pkl.gz" in str(err) and "refuses global" in str(err) and not (tmp_path / "ran").exists()


def test_convert_auto_reads_a_folder_of_web_runs(tmp_path):
    out = tmp_path / "runs.jsonl"
    r = CliRunner().invoke(cli, ["convert", str(BU), "--from", "auto", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == len(raw_tasks())


def test_action_strings_parse_without_running_them():
    assert agentlab.parse_action("fill('a5', 'x')") == ("fill", {"bid": "a5", "value": "x"})
    assert agentlab.parse_action("__import__('os').system('x')")[1] == {"call": "__import__('os').system('x')"}
    assert browser_use.FORMAT in adapters.FORMATS and agentlab.FORMAT in adapters.FORMATS
