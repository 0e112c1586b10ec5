"""Tests of the data packager (agenther_local/formats).

Golden files: tests/golden/<name>.json hold the expected row of each format for one hand-written
run (two tool steps, a user step, a final answer). A change of output fails
`test_matches_golden`. Regenerating them is an explicit step whose diff gets reviewed:

    UPDATE_GOLDEN=1 pytest tests/test_formats.py -k golden

Other tests check what the training tools need: every file loads with HuggingFace `datasets`
(also in strict mode, where a column whose type changes between rows is an error), LLaMA-Factory's
turn order, TRL's tool-call shape, ms-swift's agent roles, and that no observation ever becomes an
assistant (training) target. Everything written goes under tmp_path, goldens excepted.
"""
from __future__ import annotations

import copy
import dataclasses
import doctest
import inspect
import json
import os
import re
from pathlib import Path

import pytest

from agenther_local.formats import (FORMATS, dataset_info, package, split_goal_contrast, to_dpo,
                                    to_dpo_ms_swift, to_sft, to_sharegpt, to_success_sft)
from agenther_local.formats.dataset_info import NOT_FOR_LLAMA_FACTORY, SHAREGPT_TAGS
from agenther_local.jsonl import write_jsonl_atomic
from agenther_local.trajectory import Trajectory

GOLDEN = Path(__file__).parent / "golden"

TOOLS = [
    {"type": "function", "function": {
        "name": "search_suppliers", "description": "Search suppliers of a product.",
        "parameters": {"type": "object", "properties": {
            "product": {"type": "string"}, "max_results": {"type": "integer", "default": 10}},
            "required": ["product"]}}},
    {"type": "function", "function": {
        "name": "get_quotes", "description": "Price and minimum order quantity per supplier.",
        "parameters": {"type": "object", "properties": {
            "supplier_ids": {"type": "array", "items": {"type": "string"}}},
            "required": ["supplier_ids"]}}},
]

RUN = {
    "id": "copper-1",
    "goal": "Find copper wire under $5/kg with a minimum order below 100 kg.",
    "steps": [
        {"thought": "I should list the copper wire suppliers first.",
         "action": "search_suppliers",
         "action_input": {"product": "copper wire", "max_results": 7},
         "observation": "7 suppliers: CuPro, WireCo, MetalHub, Cuprum, OhmLine, VoltCo, RedWire."},
        {"thought": "Now compare their prices and minimum orders.",
         "action": "get_quotes",
         "action_input": {"supplier_ids": ["cupro", "wireco", "metalhub"]},
         "observation": "CuPro $5.30/kg MOQ 50 kg; WireCo $4.80/kg MOQ 500 kg; "
                        "MetalHub $4.95/kg MOQ 200 kg."},
        {"thought": "", "action": "respond", "role": "user",
         "action_input": {"content": "None is under $5/kg with MOQ below 100 kg. "
                                     "Should I check shipping costs too?"},
         "observation": "No need, just tell me which one has the smallest minimum order."},
    ],
    "final_answer": "CuPro has the smallest minimum order (50 kg) at $5.30/kg.",
    "success": False,
    "metadata": {"system": "You are a procurement assistant."},
    "tools": TOOLS,
}
HINDSIGHT = ("Compare copper wire suppliers by price and minimum order quantity, "
             "and tell me which one has the smallest minimum order.")
META = {"trajectory_id": "copper-1", "original_goal": RUN["goal"],
        "failure_type": "constraint_violation", "quality_weight": 0.7,
        "votes": [0.91, 0.84, 0.77], "confidence": 0.84,
        "constraints": [{"text": "smallest minimum order", "supported": True,
                         "evidence": "CuPro $5.30/kg MOQ 50 kg"}]}


def make(**changes) -> Trajectory:
    run = copy.deepcopy(RUN)
    run.update(changes)
    return Trajectory.from_dict(run)


def all_outputs(traj: Trajectory, goal: str = HINDSIGHT, meta=META) -> dict[str, dict]:
    """Every row builder on one run, keyed by golden name."""
    return {
        "sft": to_sft(traj, goal, 0.7, meta),
        "dpo": to_dpo(traj, goal, 0.7, meta),
        "dpo_ms_swift": to_dpo_ms_swift(traj, goal, 0.7, meta),
        "sharegpt": to_sharegpt(traj, goal, meta),
        "success_sft": to_success_sft(traj),
    }


# Runs that differ in what trips Arrow or the turn rules: no tools or system, other tool schemas
# (a parameter whose `default` is a string here and an integer above), no thoughts, no final
# answer, a user step first, an empty meta.
VARIANTS = [
    dict(),
    dict(tools=[], metadata={}),
    dict(tools=[{"type": "function", "function": {"name": "search_suppliers", "parameters": {
        "type": "object", "properties": {"max_results": {"type": "string", "default": "ten"}}}}}]),
    dict(steps=[{**s, "thought": ""} for s in RUN["steps"]]),
    dict(final_answer=""),
    dict(steps=[RUN["steps"][2], RUN["steps"][0]]),
]


# -- golden files -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sft", "dpo", "dpo_ms_swift", "sharegpt", "success_sft",
                                  "dataset_info"])
def test_matches_golden(name):
    if name == "dataset_info":
        got = dataset_info({"sharegpt.jsonl": "agenther/sharegpt.jsonl",
                            "sft.jsonl": "agenther/sft.jsonl"})
    else:
        got = all_outputs(make())[name]
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert path.exists(), f"{path} missing: run UPDATE_GOLDEN=1 pytest {__file__} -k golden"
    assert got == json.loads(path.read_text(encoding="utf-8"))


def test_output_is_deterministic():
    first = json.dumps(all_outputs(make()), ensure_ascii=False)
    assert json.dumps(all_outputs(make()), ensure_ascii=False) == first


# -- loading with HuggingFace datasets -----------------------------------------------------------

def _load_json(path: Path, cache: Path, strict: bool):
    import datasets  # in the test extra: pip install -e '.[test]'
    from datasets.packaged_modules.json.json import JsonConfig

    datasets.disable_progress_bars()
    kwargs = {}
    # datasets >= 5 falls back to opaque Json columns on mixed types; strict = the old behaviour
    # (an error), which older datasets and plain pyarrow readers still have.
    if strict and "on_mixed_types" in {f.name for f in dataclasses.fields(JsonConfig)}:
        kwargs["on_mixed_types"] = None
    return datasets.load_dataset("json", data_files=str(path), split="train",
                                 cache_dir=str(cache / ("strict" if strict else "default")), **kwargs)


@pytest.mark.parametrize("file_name", [out.file_name for outs in FORMATS.values() for out in outs])
@pytest.mark.parametrize("strict", [False, True])
def test_output_files_load_with_datasets(tmp_path, file_name, strict):
    rows = [package(make(**changes), HINDSIGHT, 0.7, META)[file_name] for changes in VARIANTS]
    rows.append(package(make(), HINDSIGHT, 1, {**META, "votes": [1.0, 0.9, 0.8]})[file_name])
    path = tmp_path / file_name
    write_jsonl_atomic(path, rows)
    ds = _load_json(path, tmp_path / "cache", strict)
    assert ds.num_rows == len(rows)
    if strict:  # (datasets >= 5 stores messages with differing keys as Json even when valid)
        assert "Json" not in repr(ds.features), "a column needed the mixed-type fallback"
    for loaded, row in zip(ds, rows):  # what goes in comes out, up to Arrow's None-filling
        assert _without_none(loaded) == row


def test_success_sft_rows_load_with_datasets(tmp_path):
    rows = [to_success_sft(make(**changes)) for changes in VARIANTS]
    path = tmp_path / "success_sft.jsonl"
    write_jsonl_atomic(path, rows)
    assert _load_json(path, tmp_path / "cache", strict=True).num_rows == len(rows)


def _without_none(value):
    """Drop the None values Arrow adds for keys other rows have (TRL's remove_none_values)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


# -- purity --------------------------------------------------------------------------------------

def test_inputs_are_not_mutated_nor_shared():
    traj, meta = make(), copy.deepcopy(META)
    before_traj, before_meta = copy.deepcopy(traj.to_dict()), copy.deepcopy(meta)
    outputs = all_outputs(traj, meta=meta)
    outputs["info"] = dataset_info({"sharegpt.jsonl": "s.jsonl"})
    assert traj.to_dict() == before_traj and meta == before_meta
    # Editing every nested value of every output must not reach the inputs either.
    _scribble(outputs)
    assert traj.to_dict() == before_traj and meta == before_meta


def _scribble(value):
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
            value[key] = "scribbled"
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("scribbled")


# -- observations are inputs, never targets ------------------------------------------------------

def _agent_texts(name: str, row: dict) -> list[str]:
    """Every string the trainer of `name` learns to produce in `row`."""
    if name in ("sft", "success_sft", "dpo"):
        conversations = ([row["completion"], row.get("completion_rejected") or []] if name == "dpo"
                         else [row["messages"]])
        return [text for messages in conversations for m in messages if m["role"] == "assistant"
                for text in [m["content"]] + [json.dumps(c["function"]["arguments"], ensure_ascii=False)
                                              for c in m.get("tool_calls", [])]]
    if name == "dpo_ms_swift":
        return [m["content"] for side in ("messages", "rejected_messages") for m in row[side]
                if m["role"] in ("assistant", "tool_call")]
    return [t["value"] for t in row["conversations"] if t["from"] in ("gpt", "function_call")]


@pytest.mark.parametrize("changes", VARIANTS)
def test_observations_never_in_agent_turns(changes):
    traj = make(**changes)
    for name, row in all_outputs(traj).items():
        texts = _agent_texts(name, row)
        assert texts, name
        for step in traj.steps:
            assert not any(step.observation in text for text in texts), (name, step.observation)


# -- what each training tool requires -------------------------------------------------------------

@pytest.mark.parametrize("changes", VARIANTS)
def test_sharegpt_follows_llama_factory_turn_rules(changes):
    """The checks of LLaMA-Factory's SharegptDatasetConverter and FunctionFormatter."""
    row = to_sharegpt(make(**changes), HINDSIGHT, META, weight=0.7)
    turns = row["conversations"]
    odd, even = ("human", "observation"), ("gpt", "function_call")
    for i, turn in enumerate(turns):
        assert turn["from"] in (odd, even)[i % 2], (i, turn)
    assert len(turns) % 2 == 0
    assert isinstance(row["system"], str) and isinstance(row["tools"], str)
    if row["tools"]:
        assert isinstance(json.loads(row["tools"]), list)
    for turn in turns:
        if turn["from"] == "function_call":
            content = re.sub(r"<think>(.*?)</think>", "", turn["value"], count=1, flags=re.DOTALL)
            call = json.loads(content)
            assert isinstance(call["name"], str) and isinstance(call["arguments"], dict)


def test_sharegpt_turns_invert_to_the_steps():
    traj = make()
    turns = to_sharegpt(traj, HINDSIGHT)["conversations"]
    assert turns[0] == {"from": "human", "value": HINDSIGHT}
    assert [t["from"] for t in turns[1:]] == ["function_call", "observation", "function_call",
                                              "observation", "gpt", "human", "gpt"]
    assert turns[1]["value"].startswith("<think>\nI should list the copper wire suppliers first.\n</think>\n\n")
    assert turns[-1]["value"] == traj.final_answer


def test_sharegpt_without_final_answer_ends_on_the_last_agent_turn():
    turns = to_sharegpt(make(final_answer=""), HINDSIGHT)["conversations"]
    assert turns[-1]["from"] == "gpt" and len(turns) == 6


@pytest.mark.parametrize("changes", VARIANTS)
def test_sft_tool_calls_are_answered_in_order(changes):
    messages = to_sft(make(**changes), HINDSIGHT, 0.7)["messages"]
    pending = None
    for m in messages:
        assert isinstance(m["content"], str)
        if m["role"] == "tool":
            assert pending is not None and m["tool_call_id"] == pending["id"]
            assert m["name"] == pending["function"]["name"]
            pending = None
        for call in m.get("tool_calls", []):
            assert pending is None
            assert isinstance(call["function"]["arguments"], dict)  # an object, not a JSON string
            pending = call
    assert pending is None


def test_sft_puts_system_and_goal_first_and_tools_as_json():
    row = to_sft(make(), HINDSIGHT, 0.7, META)
    assert row["messages"][:2] == [{"role": "system", "content": "You are a procurement assistant."},
                                   {"role": "user", "content": HINDSIGHT}]
    assert json.loads(row["tools"]) == TOOLS
    assert "tools" not in to_sft(make(tools=[]), HINDSIGHT, 0.7)
    assert row["messages"][-1] == {"role": "assistant", "content": RUN["final_answer"]}


@pytest.mark.parametrize("changes", VARIANTS)
def test_dpo_sides_differ_only_in_the_goal(changes):
    traj = make(**changes)
    row = to_dpo(traj, HINDSIGHT, 0.7, META)
    sft = to_sft(traj, HINDSIGHT, 0.7)["messages"]
    k = len(row["prompt_chosen"])
    assert row["prompt_chosen"] == sft[:k] and row["prompt_chosen"][-1] == {"role": "user", "content": HINDSIGHT}
    assert row["prompt_rejected"] == sft[:k - 1] + [{"role": "user", "content": traj.goal}]
    assert row["completion"] == sft[k:]
    assert "completion_rejected" not in row     # one run: the completion is shared
    assert not {"prompt", "chosen", "rejected"} & set(row)  # what stock TRL would read: see dpo.py
    sides = split_goal_contrast(row)
    assert sides["completion_chosen"] == sides["completion_rejected"] == row["completion"]


def test_dpo_rejected_side_keeps_the_original_of_a_shaped_run():
    """A shaped run (cut after its second step, final answer rewritten) is the chosen side; the
    rejected side keeps the run as it was, in `completion_rejected` (and in ms-swift's rows)."""
    original = make()
    shaped = dataclasses.replace(original, steps=original.steps[:2],
                                 final_answer="CuPro has the smallest minimum order: 50 kg.")
    row = to_dpo(shaped, HINDSIGHT, 0.7, META, original=original)
    assert row["completion"] == to_sft(shaped, HINDSIGHT, 0.7)["messages"][2:]
    assert row["completion_rejected"] == to_sft(original, HINDSIGHT, 0.7)["messages"][2:]
    assert split_goal_contrast(row)["completion_rejected"] == row["completion_rejected"]
    swift = to_dpo_ms_swift(shaped, HINDSIGHT, 0.7, META, original=original)
    assert swift["messages"][-1]["content"] == shaped.final_answer
    assert swift["rejected_messages"][-1]["content"] == original.final_answer
    rows = package(shaped, HINDSIGHT, 0.7, META, original=original)
    assert rows["dpo.jsonl"] == row and rows["sft.jsonl"] == to_sft(shaped, HINDSIGHT, 0.7, META)


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r.pop("prompt_rejected"), "'prompt_rejected' is missing"),
    (lambda r: r.update(completion=[]), "'completion' is missing or empty"),
    (lambda r: r["prompt_chosen"].append({"role": "assistant", "content": "x"}), "must end on its goal"),
    (lambda r: r["prompt_rejected"].__setitem__(0, {"role": "system", "content": "Other."}), "differ before the goal"),
])
def test_split_goal_contrast_rejects_other_rows(breakage, message):
    row = to_dpo(make(), HINDSIGHT, 0.7)
    breakage(row)
    with pytest.raises(ValueError, match=re.escape(message)):
        split_goal_contrast(row)


@pytest.mark.parametrize("changes", VARIANTS)
def test_ms_swift_rows_use_its_agent_format(changes):
    traj = make(**changes)
    row = to_dpo_ms_swift(traj, HINDSIGHT, 0.7, META)
    roles = {"system", "user", "assistant", "tool_call", "tool_response"}
    for side, goal in (("messages", HINDSIGHT), ("rejected_messages", traj.goal)):
        messages = row[side]
        assert {m["role"] for m in messages} <= roles
        assert [m for m in messages if m["role"] == "user"][0]["content"] == goal
        for m in messages:
            if m["role"] == "tool_call":
                call = json.loads(m["content"])
                assert isinstance(call["name"], str) and isinstance(call["arguments"], dict)
    k = next(i for i, m in enumerate(row["messages"]) if m["role"] == "user") + 1
    assert row["messages"][:k - 1] == row["rejected_messages"][:k - 1]
    assert row["messages"][k:] == row["rejected_messages"][k:]
    assert ("tools" in row) == ("rejected_tools" in row) == bool(traj.tools)


# -- argument checks -----------------------------------------------------------------------------

@pytest.mark.parametrize("build", [to_dpo, to_dpo_ms_swift])
def test_dpo_needs_two_different_goals(build):
    with pytest.raises(ValueError, match="equals the original goal"):
        build(make(), RUN["goal"], 0.7)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), True, "0.7", None])
def test_weight_must_be_in_unit_interval(weight):
    with pytest.raises(ValueError, match="quality weight"):
        to_sft(make(), HINDSIGHT, weight)


@pytest.mark.parametrize("goal", ["", "   ", None])
def test_goal_must_be_text(goal):
    with pytest.raises(ValueError, match="goal must be"):
        to_sharegpt(make(), goal)


# -- docstring examples ---------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["__init__", "_common", "sft", "dpo", "sharegpt", "dataset_info", "card"])
def test_docstring_examples(module):
    import importlib
    name = "agenther_local.formats" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


# -- registry and dataset_info -------------------------------------------------------------------

def test_formats_registry_names_the_files():
    assert {name: [o.file_name for o in outs] for name, outs in FORMATS.items()} == {
        "sft": ["sft.jsonl"], "dpo": ["dpo.jsonl", "dpo_ms_swift.jsonl"],
        "sharegpt": ["sharegpt.jsonl"]}
    for outs in FORMATS.values():  # package() calls every builder the same way
        for out in outs:
            assert {"traj", "goal", "weight", "meta"} <= set(inspect.signature(out.build).parameters)


def test_package_builds_one_row_per_file_and_rejects_unknown_formats():
    rows = package(make(), HINDSIGHT, 0.7, META, formats=("sharegpt",))
    assert list(rows) == ["sharegpt.jsonl"] and rows["sharegpt.jsonl"]["weight"] == 0.7
    with pytest.raises(ValueError, match="unknown format 'kto'"):
        package(make(), HINDSIGHT, 0.7, META, formats=("kto",))


def test_dataset_info_describes_only_what_llama_factory_reads_right():
    files = {out.file_name: f"run/{out.file_name}" for outs in FORMATS.values() for out in outs}
    info = dataset_info(files)
    assert list(info) == ["agenther_sharegpt"]
    entry = info["agenther_sharegpt"]
    assert entry["file_name"] == "run/sharegpt.jsonl" and entry["formatting"] == "sharegpt"
    assert entry["tags"] == SHAREGPT_TAGS and len(SHAREGPT_TAGS) == 7  # all or None (parser.py)
    assert set(NOT_FOR_LLAMA_FACTORY) == set(files) - {"sharegpt.jsonl"} | {"sft_success.jsonl"}   # + the baseline
    with pytest.raises(ValueError, match="unknown output file 'kto.jsonl'"):
        dataset_info({"kto.jsonl": "kto.jsonl"})


# -- TRL's own checks, on the installed TRL ------------------------------------------------------

@pytest.fixture(scope="module")
def qwen_tokenizer():
    """A small local tokenizer (MiniLM's, from its weight package) given TRL's copy of the
    Qwen2.5 chat template, the template that quoted string arguments a second time."""
    from transformers import AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    from agenther_local.embeddings import default_model_dir

    tok = AutoTokenizer.from_pretrained(str(default_model_dir()))
    tok.chat_template = qwen2_5_chat_template
    return tok


@pytest.mark.parametrize("changes", VARIANTS)
def test_rows_pass_trl_conversational_checks(changes, qwen_tokenizer):
    from trl import apply_chat_template, is_conversational

    traj = make(**changes)
    sft = to_sft(traj, HINDSIGHT, 0.7, META)
    dpo = to_dpo(traj, HINDSIGHT, 0.7, META)
    assert is_conversational(sft) and is_conversational(dpo)
    tools = json.loads(sft["tools"]) if "tools" in sft else None
    text = apply_chat_template({"messages": sft["messages"]}, qwen_tokenizer, tools=tools)["text"]
    for step in traj.steps:
        if step.role != "user":   # each call rendered once, its arguments as an object
            args = json.dumps(step.action_input, ensure_ascii=False)
            assert f'{{"name": "{step.action}", "arguments": {args}}}' in text
            assert f'"arguments": "{{' not in text
            assert f"<tool_response>\n{step.observation}\n</tool_response>" in text
    for side in ("chosen", "rejected"):      # each side of a DPO row renders through TRL too
        messages = dpo[f"prompt_{side}"] + dpo.get(f"completion_{side}", dpo["completion"])
        assert apply_chat_template({"messages": messages}, qwen_tokenizer, tools=tools)["text"].count(
            "<|im_start|>assistant") == sum(m["role"] == "assistant" for m in messages)


def test_datasets_returns_arguments_exactly_even_when_their_types_differ(tmp_path):
    """datasets >= 4.7 (installed: see pyproject) stores such messages as Json; strict loading,
    the older behaviour, fails on them (formats/sft.py says so)."""
    import datasets

    other = dict(steps=[{**RUN["steps"][0], "action_input": {"product": 7, "max_results": "ten"}}])
    rows = [to_sft(make(), HINDSIGHT, 0.7, META), to_sft(make(**other), HINDSIGHT, 0.7, META)]
    path = tmp_path / "sft.jsonl"
    write_jsonl_atomic(path, rows)
    ds = _load_json(path, tmp_path / "cache", strict=False)
    assert [r["messages"][2]["tool_calls"][0]["function"]["arguments"] for r in ds] == [
        {"product": "copper wire", "max_results": 7}, {"product": 7, "max_results": "ten"}]
    with pytest.raises(datasets.exceptions.DatasetGenerationError):
        _load_json(path, tmp_path / "cache", strict=True)
