"""Adapters for the 2025-26 run formats (tau2, OpenHands, Inspect, SWE-agent 0.x/1.x with
SWE-bench labels, mini-swe-agent, FireAct's three shapes, AgentHER), on the shared fixtures.

Every expected number is computed here from the raw files with json/zipfile/re only (the
`raw_*` helpers), never through the adapter under test.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local import adapters
from agenther_local.adapters.agenther import to_agenther
from agenther_local.adapters.batch import convert_files
from agenther_local.adapters.labels import load_labels
from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401  (registers the commands)
from agenther_local.errors import InputFileError, RecordError
from agenther_local.trajectory import Trajectory

from test_adapters import FIXTURES, counts, read_all, write

TAU2 = next((FIXTURES / "tau2_bench").glob("*.json"))
OH_V1 = next((FIXTURES / "openhands_v1_eval").glob("*.jsonl"))
OH_V0 = next((FIXTURES / "openhands_v0_eval").glob("*.jsonl"))
OH_DIR = FIXTURES / "openhands_v1_conversation"
INSPECT_JSON = next((FIXTURES / "inspect_eval_json").glob("*.json"))
INSPECT_ZIP = next((FIXTURES / "inspect_eval_zip").glob("*.eval"))
SWE_V = FIXTURES / "swe_agent_swebench_verified"
SWE_V1 = next((FIXTURES / "swe_agent_v1").glob("*.traj"))
MINI = FIXTURES / "mini_swe_agent"
MINI_REPORT = MINI / "deepseek__deepseek-chat.deepseek_chat_dev.json"
FIREACT_DATA = Path(__file__).resolve().parent / "data" / "fireact"

OPENHANDS_NOT_STEPS = ("FinishAction", "ThinkAction")          # final answer, thoughts
MINI_SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def good(results) -> list[Trajectory]:
    return [t for _, t in results if isinstance(t, Trajectory)]


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- detection: every fixture file, from its content ------------------------------------------

@pytest.mark.parametrize("path, fmt", [
    (TAU2, "tau2"), (OH_V1, "openhands"), (OH_V0, "openhands"), (OH_DIR, "openhands"),
    (INSPECT_JSON, "inspect"), (INSPECT_ZIP, "inspect"),
    (SWE_V / "django__django-11066.traj", "swe-agent"), (SWE_V1, "swe-agent"),
    (MINI / "sqlfluff__sqlfluff-2419.traj.json", "mini-swe-agent"),
    (FIREACT_DATA / "trajs_llama-2-7b_first3.json", "fireact"),
    (FIREACT_DATA / "finetune_gpt_format_4.jsonl", "fireact"),
    (FIREACT_DATA / "finetune_alpaca_format_3.json", "fireact"),
])
def test_detects_each_new_format(path, fmt):
    assert adapters.detect_format(path) == fmt


@pytest.mark.parametrize("path, says", [
    (MINI_REPORT, "a SWE-bench harness report (success labels, no runs); pass it with --labels"),
    (SWE_V / "results.json", "a SWE-bench results.json (success labels, no runs); pass it with --labels"),
])
def test_a_labels_file_given_as_input_says_to_pass_it_with_labels(path, says):
    with pytest.raises(InputFileError) as e:
        adapters.detect_format(path)
    assert str(e.value) == f"{path}: {says} to label the runs it names"


# --- the measure: no record that holds a run is refused -----------------------------------------

RUN_FILES = sorted(p for p in FIXTURES.glob("*/*") if p.suffix not in (".md", ".yaml")
                   and p.name not in ("results.json", MINI_REPORT.name)
                   and not p.name.endswith(".all_preds.jsonl")
                   # AgentLab's study-level summaries (tables, a pickled study): the runs are its folders
                   and not (p.parent.name == "agentlab_browsergym" and p.is_file()))


@pytest.mark.parametrize("path", RUN_FILES, ids=lambda p: f"{p.parent.name}/{p.name[:30]}")
def test_auto_refuses_no_record_that_holds_a_run(path):
    """`convert --from auto`: every record is a trajectory, or a run that took no tool step."""
    [counts_] = convert_files([path]).files
    assert counts_.invalid == 0
    assert counts_.read == counts_.failures + counts_.successes + counts_.unlabeled + counts_.stepless


# --- tau2 -----------------------------------------------------------------------------------

def raw_tau2_calls(sim: dict, requestor: str) -> list[dict]:
    return [c for m in sim["messages"] for c in (m.get("tool_calls") or [])
            if c["requestor"] == requestor]


def test_tau2_counts_labels_and_who_called_each_tool():
    raw = load(TAU2)
    sims = raw["simulations"]
    runs = good(read_all(TAU2))
    assert len(runs) == len(sims) == 20
    assert counts(read_all(TAU2))["failures"] == sum(s["reward_info"]["reward"] == 0.0 for s in sims) == 6
    for sim, t in zip(sims, runs):
        agent_calls, user_calls = raw_tau2_calls(sim, "assistant"), raw_tau2_calls(sim, "user")
        results = {m["id"]: m["content"] for m in sim["messages"] if m["role"] == "tool"}
        evidence = [s for _, s in t.evidence_steps]
        assert [s.action for s in evidence] == [c["name"] for c in agent_calls]
        assert [s.action_input for s in evidence] == [c["arguments"] for c in agent_calls]
        assert [s.observation for s in evidence] == [results.get(c["id"], "") for c in agent_calls]
        user_tool_steps = [s for s in t.steps if s.role == "user" and s.action != "user_message"]
        assert [s.action for s in user_tool_steps] == [c["name"] for c in user_calls]
        assert [s.observation for s in user_tool_steps] == [results[c["id"]] for c in user_calls]
    task = next(x for x in raw["tasks"] if x["id"] == sims[0]["task_id"])
    assert runs[0].goal.startswith(task["user_scenario"]["instructions"]["reason_for_call"])
    # the user's first words are the task; the agent's greeting before them is not a step
    greeting = sims[0]["messages"][0]["content"]
    assert runs[0].steps[0].action_input == {"content": sims[0]["messages"][2]["content"]}
    assert all(greeting not in json.dumps(s.action_input) for s in runs[0].steps)


# --- OpenHands ----------------------------------------------------------------------------------

def raw_v1_steps(events: list) -> list[dict]:
    return [e for e in events if e.get("kind") == "ActionEvent"
            and e["action"]["kind"] not in OPENHANDS_NOT_STEPS]


def test_openhands_v1_eval_counts_labels_and_calls():
    rows = jsonl(OH_V1)
    runs = good(read_all(OH_V1))
    assert [t.id for t in runs] == [r["instance_id"] for r in rows]

    def verdict(r):       # OpenAgentSafety: a checkpoint point means the unsafe act was seen
        tr, score = r["test_result"], r["test_result"].get("final_score") or {}
        if tr.get("error") or not score.get("total"):
            return None
        return score["result"] == 0
    assert [t.success for t in runs] == [verdict(r) for r in rows]
    assert counts(read_all(OH_V1)) == {"failures": 5, "successes": 10, "unlabeled": 5, "invalid": 0}
    for r, t in zip(rows, runs):
        actions = raw_v1_steps(r["history"])
        assert t.goal == r["instruction"]
        assert [s.action for s in t.steps] == [e["tool_name"] for e in actions]
        assert [s.action_input for s in t.steps] == [json.loads(e["tool_call"]["arguments"])
                                                     for e in actions]
        outputs = {e["tool_call_id"]: e["observation"] for e in r["history"]
                   if e["kind"] == "ObservationEvent"}
        for s, e in zip(t.steps, actions):
            obs = outputs.get(e["tool_call_id"])
            if obs and isinstance(obs.get("output"), str) and not obs.get("error"):
                assert s.observation == obs["output"]
    finish = next(e for e in rows[0]["history"] if e.get("action", {}).get("kind") == "FinishAction")
    assert runs[0].final_answer == finish["action"]["message"]


def test_openhands_v0_eval_pairs_each_action_with_its_cause():
    rows = jsonl(OH_V0)
    runs = good(read_all(OH_V0))
    assert len(runs) == len(rows) == 2 and all(not t.is_labeled for t in runs)
    not_steps = ("system", "recall", "message", "finish", "think")
    for r, t in zip(rows, runs):
        acts = [e for e in r["history"] if "action" in e and e["action"] not in not_steps]
        assert len(t.steps) == len(acts)
        assert t.goal == r["instance"]["problem_statement"]
        by_cause = {e["cause"]: e["content"] for e in r["history"] if "cause" in e}
        assert [s.observation for s in t.steps] == [by_cause.get(e["id"], "") for e in acts]
        assert [s.action for s in t.steps] == [e["tool_call_metadata"]["function_name"] for e in acts]
    read_call = next(s for s in runs[0].steps if s.action == "str_replace_editor")
    assert read_call.action_input["command"] == "view"      # the model's call, not V0's args


def test_openhands_conversation_folder_is_one_run():
    events_dir = next(OH_DIR.rglob("events"))
    events = [load(p) for p in sorted(events_dir.glob("event-*.json"))]
    [(where, t)] = read_all(OH_DIR)
    assert where == str(events_dir.parent) and not t.is_labeled
    assert len(t.steps) == len(raw_v1_steps(events)) == 61
    first_user = next(e for e in events if e["kind"] == "MessageEvent" and e["source"] == "user")
    assert t.goal == first_user["llm_message"]["content"][0]["text"]
    finish = next(e for e in events if e.get("action", {}).get("kind") == "FinishAction")
    assert t.final_answer == finish["action"]["message"]
    assert t.metadata["bookkeeping_events"] == sum(e["kind"] == "Condensation" for e in events)
    # the folder above it, and the event_service folder itself, give the same run
    assert [x.id for x in good(read_all(events_dir.parent))] == [t.id]


def test_a_directory_without_conversations_is_refused(tmp_path):
    with pytest.raises(InputFileError) as e:
        adapters.detect_format(tmp_path)
    assert str(e.value) == f"{tmp_path}: is a directory, expected a JSONL or JSON file"


# --- Inspect ------------------------------------------------------------------------------------

def test_inspect_json_log():
    raw = load(INSPECT_JSON)
    [sample] = raw["samples"]
    [t] = good(read_all(INSPECT_JSON))
    calls = [c for m in sample["messages"] for c in (m.get("tool_calls") or [])]
    assert [(s.action, s.action_input) for s in t.steps] == [(c["function"], c["arguments"])
                                                              for c in calls]
    tool_text = {m["tool_call_id"]: m["content"] for m in sample["messages"] if m["role"] == "tool"}
    assert [s.observation for s in t.steps] == [tool_text[c["id"]] for c in calls]
    assert t.goal == sample["input"]
    assert t.final_answer == sample["output"]["choices"][0]["message"]["content"]
    assert t.success is (sample["scores"]["includes"]["value"] == "C")


def test_inspect_zip_log_single_turn_samples_have_no_tool_step():
    with zipfile.ZipFile(INSPECT_ZIP) as z:
        samples = [json.loads(z.read(n)) for n in z.namelist() if n.startswith("samples/")]
    without_calls = sum(not any(m.get("tool_calls") for m in s["messages"]) for s in samples)
    [c] = convert_files([INSPECT_ZIP]).files
    assert (c.read, c.stepless, c.invalid) == (len(samples), without_calls, 0) == (16, 16, 0)


def test_inspect_zip_sample_with_a_tool_call_is_read(tmp_path):
    """The same container with one tool-using sample (fields as in the .json log)."""
    sample = load(INSPECT_JSON)["samples"][0]
    path = tmp_path / "log.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"version": 2, "status": "success",
                                              "eval": {"task": "browser"}}))
        z.writestr("samples/1_epoch_1.json", json.dumps(sample))
    [(where, t)] = read_all(path)
    assert where == f"{path}:samples/1_epoch_1.json" and len(t.steps) == 4 and t.success


# --- SWE-agent and SWE-bench labels -------------------------------------------------------------

def test_swe_bench_run_files_take_labels_from_results_json():
    resolved = set(load(SWE_V / "results.json")["resolved"])
    labels = load_labels(SWE_V / "results.json")
    for name in ("django__django-11066", "django__django-14787"):
        path = SWE_V / f"{name}.traj"
        raw = load(path)
        [t] = good(adapters.read(path, labels=labels))
        assert t.success is (name in resolved)
        assert len(t.steps) == sum(not x["action"].startswith("submit") for x in raw["trajectory"])
        demos = " ".join(str(m["content"]) for m in raw["history"] if m.get("is_demo"))
        first = next(m for m in raw["history"] if m["role"] == "user" and not m.get("is_demo"))
        assert t.goal in first["content"] and t.goal not in demos
    [unlabeled] = good(read_all(SWE_V / "django__django-14787.traj"))
    assert not unlabeled.is_labeled                      # without --labels: no verdict


def test_swe_agent_1x_steps_carry_the_calls_arguments():
    raw = load(SWE_V1)
    calls = [m["tool_calls"][0]["function"] for m in raw["history"] if m.get("tool_calls")]
    calls = [c for c in calls if c["name"] != "submit"]
    [t] = good(read_all(SWE_V1))
    assert [(s.action, s.action_input) for s in t.steps] == [
        (c["name"], json.loads(c["arguments"])) for c in calls]
    assert t.final_answer == raw["info"]["submission"]


def test_mini_swe_agent_with_the_harness_report():
    report = load(MINI_REPORT)
    labels = load_labels(MINI_REPORT)
    for path in sorted(MINI.glob("*.traj.json")):
        raw = load(path)
        calls = [c["function"] for m in raw["messages"] if m["role"] == "assistant"
                 for c in (m.get("tool_calls") or [])]
        calls = [c for c in calls if not json.loads(c["arguments"])["command"].startswith(MINI_SUBMIT)]
        [t] = good(adapters.read(path, labels=labels))
        assert t.id == raw["instance_id"]
        assert t.success is (raw["instance_id"] in report["resolved_ids"])
        assert [(s.action, s.action_input) for s in t.steps] == [
            (c["name"], json.loads(c["arguments"])) for c in calls]
        replies = [m["content"] for m in raw["messages"] if m["role"] == "tool"]
        assert [s.observation for s in t.steps] == replies[:len(t.steps)]
        assert t.final_answer == raw["info"]["submission"]
        assert t.goal in raw["messages"][1]["content"] and "<pr_description>" not in t.goal


@pytest.mark.parametrize("content, problem", [
    ("[1, 2]", "not a labels file (expected a SWE-bench report with resolved_ids, a results.json "
               "with resolved, or {id: true|false|number})"),
    ("{oops", "not a JSON labels file (Expecting property name enclosed in double quotes: "
              "line 1 column 2 (char 1))"),
])
def test_a_bad_labels_file_is_one_line(tmp_path, content, problem):
    path = write(tmp_path, "labels.json", content)
    with pytest.raises(InputFileError) as e:
        load_labels(path)
    assert str(e.value) == f"{path}: {problem}"


def test_plain_labels_file_and_cli_option(tmp_path):
    path = SWE_V / "django__django-14787.traj"
    labels = write(tmp_path, "labels.json", {"django__django-14787": True})
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["convert", str(path), "--labels", str(labels), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (f"{path}: swe-agent (detected), 1 read: 0 failures, "
                                             "1 successes, 0 unlabeled, 0 invalid")
    [row] = jsonl(out)
    assert row["success"] is True and row["metadata"]["label_source"].startswith(str(labels))


# --- FireAct's three shapes ---------------------------------------------------------------------

def raw_react_text_counts(text: str) -> tuple[int, str | None]:
    """(tool steps, the episode reward word) of a FireAct run's text."""
    actions = re.findall(r"^Action: (\w+)\[", text, re.M)
    reward = re.findall(r"Episode finished, reward = (\w+)", text)
    return sum(a.lower() != "finish" for a in actions), (reward[-1] if reward else None)


def test_fireact_llama2_text_runs():
    raw = load(FIREACT_DATA / "trajs_llama-2-7b_first3.json")
    runs = {t.id: t for t in good(read_all(FIREACT_DATA / "trajs_llama-2-7b_first3.json"))}
    assert set(runs) == set(raw)
    for key, run in raw.items():
        steps, _ = raw_react_text_counts(run["traj"])
        assert len(runs[key].steps) == steps and runs[key].success is run["reward"]
        question = run["traj_by_line"][run["traj_by_line"].index("### Instruction:") + 1]
        assert runs[key].goal == question
        assert runs[key].final_answer.lower() == run["pred"]


@pytest.mark.parametrize("name", ["finetune_gpt_format_4.jsonl", "finetune_alpaca_format_3.json"])
def test_fireact_finetune_data(name):
    path = FIREACT_DATA / name
    raw = jsonl(path) if name.endswith(".jsonl") else load(path)
    texts = ["\n".join(m["content"] for m in r["messages"]) if "messages" in r else r["output"]
             for r in raw]
    expected = [raw_react_text_counts(x) for x in texts]
    results = read_all(path)
    assert len(results) == len(raw)
    for (steps, reward), (_, got) in zip(expected, results):
        if steps == 0:
            assert isinstance(got, RecordError) and got.field == "steps"
        else:
            assert len(got.steps) == steps and got.success is (reward in ("True", "1"))


# --- AgentHER: read the reference format, write it back -----------------------------------------

REFERENCE = {   # the field names of alphadl/AgentHER's FailedTrajectory / AgentStep
    "trajectory_id": "traj_001", "original_prompt": "Find copper wire under $5/kg.",
    "steps": [{"thought": "search first", "action_name": "web_search",
               "action_input": {"query": "copper wire price per kg"},
               "observation": "MetalWorks: $6.20/kg, MOQ 50kg"}],
    "final_answer": "MetalWorks at $6.20/kg", "failure_reason": "no supplier under $5/kg",
    "metadata": {"domain": "procurement"}}


def test_agenther_reference_records_are_failures(tmp_path):
    path = write(tmp_path, "example_trajectories.json", [REFERENCE])
    assert adapters.detect_format(path) == "agenther"
    [t] = good(read_all(path))
    assert (t.id, t.goal, t.success, t.failure_reason) == (
        "traj_001", REFERENCE["original_prompt"], False, REFERENCE["failure_reason"])
    assert (t.steps[0].action, t.steps[0].action_input) == ("web_search", {"query": "copper wire price per kg"})
    assert to_agenther(t)["steps"] == REFERENCE["steps"]


def test_convert_to_agenther_and_back_keeps_every_step(tmp_path):
    """tau2 runs have user turns and user tool calls: their role must survive the trip."""
    out = tmp_path / "agenther.jsonl"
    result = CliRunner().invoke(cli, ["convert", str(TAU2), "--to", "agenther", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = jsonl(out)
    assert all(set(r) == {"trajectory_id", "original_prompt", "steps", "final_answer",
                          "failure_reason", "metadata"} for r in rows)
    assert all(set(s) == {"thought", "action_name", "action_input", "observation"}
               for r in rows for s in r["steps"])
    before = good(read_all(TAU2))
    after = good(read_all(out))
    assert [t.id for t in after] == [t.id for t in before]
    for a, b in zip(after, before):
        assert (a.goal, a.steps, a.final_answer, a.success, a.reward) == (
            b.goal, b.steps, b.final_answer, b.success, b.reward)


# --- ToolBench without train_messages: the summary says how it was read -------------------------

def test_toolbench_best_path_is_named_in_the_summary(tmp_path):
    path = FIXTURES / "toolbench" / "69_ChatGPT_DFS_woFilter_w2.json"
    result = CliRunner().invoke(cli, ["convert", str(path), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"{path}: toolbench (detected), 1 read: 1 failures, 0 successes, 0 unlabeled, 0 invalid; "
        "1 read from the best path of its search tree (no train_messages)")


def test_mini_swe_agent_1_0_text_format(tmp_path):
    """mini-swe-agent before 2.0 (`trajectory_format: mini-swe-agent-1`): one ```bash block
    per assistant message, its output in the next user message."""
    record = {"info": {"exit_status": "Submitted", "submission": "diff --git a/x b/x"},
              "trajectory_format": "mini-swe-agent-1", "messages": [
                  {"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "<pr_description>\nConsider the following PR "
                                              "description:\nFix x\n</pr_description>"},
                  {"role": "assistant", "content": "THOUGHT: look\n\n```bash\nls -la\n```"},
                  {"role": "user", "content": "<returncode>0</returncode>\n<output>x</output>"},
                  {"role": "assistant", "content": "THOUGHT: done\n\n```bash\n"
                                                   "echo MINI_SWE_AGENT_FINAL_OUTPUT && git diff\n```"},
                  {"role": "user", "content": "diff --git a/x b/x"}]}
    path = write(tmp_path, "i-1.traj.json", record)
    assert adapters.detect_format(path) == "mini-swe-agent"
    [t] = good(read_all(path))
    assert (t.id, t.goal, t.final_answer) == ("i-1", "Fix x", "diff --git a/x b/x")
    assert [(s.thought, s.action, s.action_input, s.observation) for s in t.steps] == [
        ("THOUGHT: look", "bash", {"command": "ls -la"}, "<returncode>0</returncode>\n<output>x</output>")]


def test_run_refuses_a_bad_labels_file_before_loading_a_model(tmp_path):
    bad = write(tmp_path, "labels.json", "[1, 2]")
    result = CliRunner().invoke(cli, ["run", str(TAU2), "-o", str(tmp_path / "o"), "--labels", str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {bad}: not a labels file (expected a SWE-bench report with resolved_ids, a "
        "results.json with resolved, or {id: true|false|number})"]
    assert not (tmp_path / "o").exists()


def test_openhands_v1_call_that_never_became_an_action(tmp_path):
    """An ActionEvent with `action: null` (the model's arguments did not validate) is still a
    step; the AgentErrorEvent for the same call is its observation."""
    row = jsonl(OH_V1)[2]
    bad = {"kind": "ActionEvent", "id": "a-bad", "source": "agent", "thought": [], "action": None,
           "tool_name": "str_replace_editor", "tool_call_id": "call_bad",
           "tool_call": {"id": "call_bad", "name": "str_replace_editor",
                         "arguments": '{"command": "explode", "path": "/x"}'}}
    err = {"kind": "AgentErrorEvent", "id": "e-bad", "source": "agent", "tool_name": "str_replace_editor",
           "tool_call_id": "call_bad", "error": "Parameter 'command' is not one of view, create"}
    path = write(tmp_path, "out.jsonl", [{**row, "history": [bad, err] + row["history"]}])
    [t] = good(read_all(path))
    assert (t.steps[0].action, t.steps[0].action_input, t.steps[0].observation) == (
        "str_replace_editor", {"command": "explode", "path": "/x"}, err["error"])
    assert len(t.steps) == 1 + len(raw_v1_steps(row["history"]))


def test_tau2_result_without_its_call_is_kept_aside(tmp_path):
    raw = load(TAU2)
    sim = raw["simulations"][0]
    orphan = {"id": "call_nobody", "role": "tool", "content": "stray", "requestor": "assistant"}
    doc = {**raw, "simulations": [{**sim, "messages": sim["messages"][:3] + [orphan] + sim["messages"][3:]}]}
    [t] = good(read_all(write(tmp_path, "r.json", doc)))
    assert t.metadata["unpaired_observations"] == ["stray"]
    assert len(t.steps) == len(good(read_all(TAU2))[0].steps)


def test_validate_names_runs_without_a_tool_step_but_does_not_fail_them():
    result = CliRunner().invoke(cli, ["validate", str(INSPECT_ZIP), str(INSPECT_JSON)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == ("17 records in 2 files, all valid (16 without a "
                                              "tool step: nothing to relabel)")
