"""Budgets from schema bounds and the degenerate-repetition stop (judges/generation.py), the
GPU offload decision (judges/llama.py `gpu_layers`, with llama.cpp's support function
monkeypatched: these machines have no GPU), and the under-load test runner."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from agenther_local import adapters
from agenther_local.config import RuntimeConfig
from agenther_local.errors import ConfigError
from agenther_local.judges import llama as llama_judge
from agenther_local.judges.generation import (RepetitionStop, UnboundedSchema, fit_budget, json_bound,
                                              repetition)
from agenther_local.stages.detect import JudgeDetector
from agenther_local.stages.extract import JudgeExtractor
from agenther_local.stages.relabel import SCHEMA
from agenther_local.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
SCHEMAS = {"relabel": SCHEMA, "extract": JudgeExtractor.SCHEMA, "detect": JudgeDetector.SCHEMA}


# -- the bound: the longest JSON a schema admits, as llama.cpp's grammar writes it ----------
def longest(schema: dict) -> str:
    """The longest JSON llama-cpp-python's grammar lets through for `schema` (one optional
    space after each separator, 16-digit integers, strings at maxLength), with its trailing space."""
    if "enum" in schema:
        return max((json.dumps(v) for v in schema["enum"]), key=len) + " "
    t = schema["type"]
    if t == "string":
        return '"' + "x" * schema["maxLength"] + '" '
    if t == "integer":
        return "-" + "9" * 16 + " "
    if t == "boolean":
        return "false "
    if t == "array":
        return "[ " + ", ".join(longest(schema["items"]) for _ in range(schema["maxItems"])) + "] "
    members = [json.dumps(k) + ": " + longest(v) for k, v in schema["properties"].items()]
    return "{ " + ", ".join(members) + "} "


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_bound_is_the_longest_json_the_grammar_admits(name):
    text = longest(SCHEMAS[name])
    json.loads(text)                                   # it is JSON
    assert json_bound(SCHEMAS[name]) == len(text)


def instances(schema: dict):
    """Hypothesis strategy: JSON values valid under `schema` (the subset our schemas use)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    t = schema["type"]
    if t == "string":
        return st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=schema["maxLength"])
    if t == "integer":
        return st.integers(-(10 ** 16) + 1, 10 ** 16 - 1)
    if t == "boolean":
        return st.booleans()
    if t == "array":
        return st.lists(instances(schema["items"]), min_size=schema.get("minItems", 0), max_size=schema["maxItems"])
    return st.fixed_dictionaries({k: instances(v) for k, v in schema["properties"].items()})


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_plain_text_answer_within_the_schema_exceeds_its_budget(data):
    for schema in SCHEMAS.values():
        value = data.draw(instances(schema))
        # one token writes at least one character of plain text, so characters bound tokens
        text = json.dumps(value, separators=(", ", ": "))
        text = text.replace('\\"', "'").replace("\\\\", "/")     # the grammar's char: one per character
        assert len(text) <= fit_budget(schema)[1]


def test_unbounded_parts_are_named():
    with pytest.raises(UnboundedSchema, match=r"\$\.goal: a string without maxLength"):
        json_bound({"type": "object", "properties": {"goal": {"type": "string"}}})
    with pytest.raises(UnboundedSchema, match=r"\$\.xs: an array without maxItems"):
        json_bound({"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}})


def test_a_budget_below_the_bound_shrinks_the_strings_until_it_fits():
    schema, budget = fit_budget(SCHEMA, 1200)
    assert budget == 1200 and json_bound(schema) <= 1200
    goal, part = schema["properties"]["goal"], schema["properties"]["constraints"]["items"]["properties"]["part"]
    assert 0 < goal["maxLength"] < SCHEMA["properties"]["goal"]["maxLength"]
    assert 0 < part["maxLength"] < 120
    assert SCHEMA["properties"]["goal"]["maxLength"] == 240       # the shared schema is untouched
    assert fit_budget(SCHEMA, 5000) == (SCHEMA, 5000)              # a larger budget changes nothing


def test_a_budget_too_small_for_the_structure_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as e:
        fit_budget(SCHEMA, 160, where="[relabel] max_goal_tokens")
    msg = str(e.value)
    assert msg.startswith("[relabel] max_goal_tokens = 160: too small for the JSON asked for")
    assert f"the schema's bound of {json_bound(SCHEMA)}" in msg and "\n" not in msg


# -- degenerate repetition ------------------------------------------------------------------
LOOPS = {
    # issue 18: the 0.5B writer on an AVX-512 machine
    "phrase loop": '{"goal": "Find ' + "facts that are not only facts but also " * 3,
    "same part five times": '{"goal": "Find the price of NVDA", "constraints": ['
                            + ", ".join(['{"part": "the price", "facts": [1]}'] * 5),
    "digit run": '{"goal": "x", "constraints": [{"part": "x", "facts": [1111111111111111',
    "word stutter": '{"goal": "' + "Paris " * 6,
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_loops_are_recognised(name):
    assert repetition(LOOPS[name]) is not None


def fixture_goals() -> list[str]:
    goals = []
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            try:
                fmt = adapters.detect_format(f)
            except Exception:          # README files and the like: not a run
                continue
            goals += [t.goal for _, t in adapters.read(f, fmt) if isinstance(t, Trajectory)]
    return goals


def test_no_user_goal_of_the_fixtures_reads_as_a_loop():
    goals = fixture_goals()
    assert len(goals) > 800          # every fixture shape was read
    flagged = []
    for g in goals:
        g = g[:SCHEMA["properties"]["goal"]["maxLength"]]
        # as a writer would echo it: goal, its one part, and the rationale all the same text
        draft = json.dumps({"goal": g, "constraints": [{"part": g[:120], "facts": [1]}], "valid": True,
                            "rationale": g[:80]})
        if repetition(draft):
            flagged.append((g[:60], repetition(draft)))
    assert flagged == []


def test_the_stop_is_sticky_and_reads_only_the_generated_tokens():
    text = LOOPS["phrase loop"]
    vocab = {i: c.encode() for i, c in enumerate(text)}
    prompt = [0] * 50               # a prompt that repeats itself is not the draft's business
    stop = RepetitionStop(lambda ids: b"".join(vocab[i] for i in ids), len(prompt), RuntimeConfig())
    ids = list(range(len(text)))
    fired = next(n for n in range(1, len(ids) + 1) if stop(prompt + ids[:n], None))
    assert fired < len(ids) and stop.at_token == fired and "facts that are not" in stop.reason
    assert stop(prompt, None)       # asked again after the loop: still stopped


# -- GPU offload decision (no GPU here: llama.cpp's answer is monkeypatched) -----------------
@pytest.fixture
def build(monkeypatch):
    import llama_cpp

    def make(gpu: bool, info: str = "CPU : SSE3 = 1 | AVX2 = 1 | "):
        monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: gpu)
        monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: info.encode())
    return make


def test_a_cpu_build_offloads_nothing_and_says_so_only_when_asked(build):
    build(False)
    assert llama_judge.gpu_layers(None) == (0, None)
    layers, notice = llama_judge.gpu_layers(-1)
    assert layers == 0 and notice.startswith("--gpu-layers -1 ignored: this llama-cpp-python build has no GPU backend")


def test_a_gpu_build_offloads_every_layer_by_default_and_names_the_backend(build):
    build(True, "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX2 = 1 | ")
    assert llama_judge.backends() == ["CUDA", "CPU"]
    layers, notice = llama_judge.gpu_layers(None)
    assert layers == -1
    assert notice.format(n_layers=28) == "all 28 layers offloaded to CUDA (--gpu-layers -1; 0 keeps the model on the CPU)"
    layers, notice = llama_judge.gpu_layers(10)
    assert layers == 10 and notice.format(n_layers=28).startswith("10 of 28 layers offloaded to CUDA")
    assert llama_judge.gpu_layers(0) == (0, None)


def test_metal_is_named_too(build):
    build(True, "Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 | ")
    assert llama_judge.gpu_layers(None)[1].endswith("offloaded to Metal (--gpu-layers -1; 0 keeps the model on the CPU)")


# -- the under-load runner -------------------------------------------------------------------
def test_under_load_kills_a_stuck_pytest_and_every_busy_process(tmp_path):
    (tmp_path / "test_stuck.py").write_text("import time\n\ndef test_stuck():\n    time.sleep(120)\n")
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "under_load.py"), "--busy", "2", "--timeout", "5",
                          "--", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_stuck.py")],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 124, res.stderr
    assert "pytest killed after 5 s" in res.stderr
    pids = [int(p) for p in res.stderr.split("busy pids:")[1].split("\n")[0].split()]
    assert len(pids) == 2
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
