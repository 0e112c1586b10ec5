"""Tests of the adapters (agenther_local/adapters), on the real runs in the shared fixtures.

Expected numbers were counted from the raw files by a separate throwaway script (json/re
only, no adapter code), then written here as literals:
- tau-bench: 67 items, reward 0.0 in 42; item 0 has 8 tool calls and 8 user messages.
- FireAct: 465 runs, reward false in 265; 150 runs call finish[] with no search before it
  (80 of them failures), so 315 runs have tool steps: 185 failures, 130 successes.
- Reflexion log: 512 question blocks, 12 of them a second, identical copy (INCORRECT and
  HALTED) of a run in the same trial: 500 runs, 170 under CORRECT.
- ToolBench: tree leaves not ending in a give_answer Finish: 0, 0, 3, 0 and 9 per file.
Everything written goes under tmp_path.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from agenther_local import adapters
from agenther_local.errors import ConfigError, InputFileError, RecordError
from agenther_local.trajectory import Step, Trajectory

FIXTURES = Path(os.environ.get("AGENTHER_FIXTURES", "/work/shared/fixtures"))
TAU = FIXTURES / "tau_bench_airline" / "gpt-4o-airline.part1of3.json"
FIREACT = FIXTURES / "fireact_hotpotqa" / ("hotpotqa_dev_0_500_ft_gpt-3.5-turbo-0613_"
                                           "princeton-nlp__7woQRsdi_0.0_2023-09-21-16-19-51.json")
REFLEXION = FIXTURES / "react_hotpotqa" / "react_base_100_questions_5_trials.txt"
TOOLBENCH = FIXTURES / "toolbench"
SWE = FIXTURES / "swe_agent"


def read_all(path, fmt="auto", branches=False):
    return list(adapters.read(path, fmt, branches=branches))


def counts(results) -> dict[str, int]:
    out = {"failures": 0, "successes": 0, "unlabeled": 0, "invalid": 0}
    for _, got in results:
        key = ("invalid" if isinstance(got, RecordError) else "unlabeled" if not got.is_labeled
               else "successes" if got.is_success else "failures")
        out[key] += 1
    return out


def good(results) -> dict[str, Trajectory]:
    return {t.id: t for _, t in results if isinstance(t, Trajectory)}


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, list) and name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in content), encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


# --- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize("path, fmt", [
    (TAU, "openai"), (FIREACT, "fireact"), (REFLEXION, "react"),
    (TOOLBENCH / "10_ChatGPT_DFS_woFilter_w2.json", "toolbench"),
    (TOOLBENCH / "69_ChatGPT_DFS_woFilter_w2.json", "toolbench"),
    (SWE / "pydicom__pydicom-1458.traj", "swe-agent"),
    (SWE / "swe-agent__test-repo-i1.traj", "swe-agent"),
])
def test_detects_each_fixture_from_its_content(path, fmt, tmp_path):
    assert adapters.detect_format(path) == fmt
    renamed = tmp_path / "runs.dat"        # the name says nothing; the content decides
    renamed.write_bytes(path.read_bytes())
    assert adapters.detect_format(renamed) == fmt


def test_an_unknown_file_is_one_line_naming_it(tmp_path):
    path = SWE / "pydicom__pydicom-1458.all_preds.jsonl"     # SWE-bench predictions: no steps
    with pytest.raises(InputFileError) as e:
        adapters.detect_format(path)
    assert str(e.value) == (f"{path}: SWE-bench predictions (a patch per instance, no steps): "
                            "nothing to relabel; convert the run's .traj files instead")
    odd = write(tmp_path, "odd.json", {"a": 1, "b": 2})
    with pytest.raises(InputFileError) as e:
        adapters.detect_format(odd)
    assert str(e.value) == (f"{odd}: cannot tell the format (first record has keys a, b); pass "
                            "--from with one of native, agenther, agentlab, browser_use, fireact, inspect, mini-swe-agent, "
                            "openai, openhands, react, sharegpt, swe-agent, tau2, toolbench")


def test_detection_failures_are_input_file_errors(tmp_path):
    for name, content, problem in [("e.jsonl", "", "empty file, nothing to convert"),
                                   ("p.txt", "just prose\n", "cannot tell the format (not JSON, "
                                    "and no Thought/Action/Observation lines); pass --from")]:
        path = write(tmp_path, name, content)
        with pytest.raises(InputFileError, match="^" + str(path).replace(".", r"\.") + ": "):
            adapters.detect_format(path)
        with pytest.raises(InputFileError) as e:
            adapters.read(path)
        assert str(e.value) == f"{path}: {problem}"
    with pytest.raises(InputFileError, match="no such file"):
        adapters.read(tmp_path / "missing.json", "openai")
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        adapters.read(TAU, "xml")


# --- real fixtures ----------------------------------------------------------------------------

def test_tau_bench_counts_and_locations():
    results = read_all(TAU)
    assert counts(results) == {"failures": 42, "successes": 25, "unlabeled": 0, "invalid": 0}
    assert [w for w, _ in results] == [f"{TAU}:#{i}" for i in range(67)]
    assert len(good(results)) == 67     # ids unique


def test_tau_bench_first_run():
    where, t = read_all(TAU)[0]
    assert t.id == "task0-trial0" and t.reward == 0.0 and not t.is_success
    assert t.goal.startswith("You are mia_li_3668. You want to fly from New York to Seattle")
    assert len(t.steps) == 15                                   # 8 tool calls + 7 later user turns
    assert sum(s.role == "user" for s in t.steps) == 7
    assert len(t.evidence_steps) == 8
    first_tool = t.evidence_steps[0][1]
    assert (first_tool.action, first_tool.action_input) == ("get_user_details",
                                                            {"user_id": "mia_li_3668"})
    assert first_tool.observation.startswith('{"name": {"first_name": "Mia"')
    assert t.steps[0] == Step("", "user_message", {"content": "To assist you with booking a flight, "
                              "I'll need your user ID. Could you please provide that?"},
                              "Sure, my user ID is mia_li_3668.", role="user")
    assert t.final_answer.startswith("Your flight from New York (JFK) to Seattle (SEA) has been "
                                     "successfully booked.")
    assert t.metadata["system"].startswith("# Airline Agent Policy")
    assert not any("Airline Agent Policy" in s.observation for s in t.steps)
    assert t.metadata["first_user_message"] == ("Hi! I'm looking to book a flight from New York "
                                                "to Seattle on May 20th.")
    assert (t.metadata["source_format"], t.metadata["source"]) == ("openai", f"{TAU}:#0")


def test_fireact_counts():
    results = read_all(FIREACT)
    assert len(results) == 465
    assert counts(results) == {"failures": 185, "successes": 130, "unlabeled": 0, "invalid": 150}
    invalid = [e for _, e in results if isinstance(e, RecordError)]
    assert {(e.field, e.problem) for e in invalid} == {
        ("steps", "empty: the agent gave its final answer without a tool step, so there is "
                  "nothing to relabel")}


def test_fireact_known_runs():
    results = dict(read_all(FIREACT))
    t = results[f"{FIREACT}:#3522"]
    assert (t.id, t.goal, t.success) == ("3522", "Who is older Danny Green or James Worthy?", True)
    assert [(s.action, s.action_input) for s in t.steps] == [
        ("search", {"argument": "Danny Green birth date"}),
        ("search", {"argument": "James Worthy birth date"})]
    assert t.final_answer == "James Worthy"
    assert (t.metadata["gt"], t.metadata["pred"]) == ("james worthy", "james worthy")
    assert t.metadata["finish_observation"] == "Episode finished, reward = True"
    direct = results[f"{FIREACT}:#5388"]                      # finish[...] at once, reward false
    assert isinstance(direct, RecordError) and direct.where == f"{FIREACT}:#5388"


def test_reflexion_log_counts_and_ids():
    results = read_all(REFLEXION)
    assert counts(results) == {"failures": 330, "successes": 170, "unlabeled": 0, "invalid": 0}
    trajs = good(results)
    assert len(trajs) == 500
    for trial in range(1, 6):
        assert sum(t.metadata["trial"] == trial for t in trajs.values()) == 100
    twins = [t for t in trajs.values() if t.metadata.get("also_listed_under")]
    assert len(twins) == 12
    assert {(t.metadata["section"], tuple(t.metadata["also_listed_under"])) for t in twins} == {
        ("INCORRECT", ("HALTED",))}
    assert trajs["trial1-q65"].metadata["copies_at_lines"] == [1462]   # the HALTED copy


def test_reflexion_log_known_runs():
    results = dict(read_all(REFLEXION))
    t = results[f"{REFLEXION}:8"]
    assert (t.id, t.success) == ("trial1-q1", True)
    assert t.goal == "Which of Jonny Craig and Pete Doherty has been a member of more bands ?"
    assert [s.action_input["argument"] for s in t.steps] == ["Jonny Craig", "Pete Doherty"]
    assert t.final_answer == "Jonny Craig" and t.metadata["gt"] == 'Jonny" Craig'
    halted = results[f"{REFLEXION}:1357"]
    assert halted.goal.startswith("What team was led to victory in 1939")
    assert (len(halted.steps), halted.final_answer, halted.success) == (6, "", False)
    assert "HALTED" in halted.failure_reason and halted.metadata["gt"] == "Oklahoma Sooners"


@pytest.mark.parametrize("name, plain, with_branches", [
    ("10", {"successes": 1}, {"successes": 1}),
    ("11", {"successes": 1}, {"successes": 1}),
    ("57", {"successes": 1}, {"successes": 1, "failures": 3}),
    ("59", {"successes": 1}, {"successes": 1}),
    ("69", {"failures": 1}, {"failures": 9}),    # no train_messages: its tree's best path
])
def test_toolbench_counts(name, plain, with_branches):
    path = TOOLBENCH / f"{name}_ChatGPT_DFS_woFilter_w2.json"
    zero = {"failures": 0, "successes": 0, "unlabeled": 0, "invalid": 0}
    assert counts(read_all(path)) == {**zero, **plain}
    assert counts(read_all(path, branches=True)) == {**zero, **with_branches}


def test_toolbench_chosen_path():
    path = TOOLBENCH / "10_ChatGPT_DFS_woFilter_w2.json"
    [(where, t)] = read_all(path)
    assert (where, t.id, t.success) == (f"{path}:1", "10_ChatGPT_DFS_woFilter_w2", True)
    assert t.goal.startswith("Can you retrieve the contact details of the 'Gondrand' customs")
    assert [s.action for s in t.steps] == ["transitaires_for_transitaires",
                                           "transitaire_for_transitaires"]
    assert t.steps[1].action_input == {"is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"}
    assert t.final_answer.startswith("The contact details of the 'Gondrand' customs agency")
    assert len(t.tools) == 3 and t.metadata["system"].startswith("You are AutoGPT")
    # 57: DFSDT's "previous trails failed" prompt is a user turn the agent saw: context only
    [(_, t57)] = read_all(TOOLBENCH / "57_ChatGPT_DFS_woFilter_w2.json")
    assert [s.role for s in t57.steps] == ["tool", "tool", "user", "tool"]


def test_toolbench_branches():
    path = TOOLBENCH / "57_ChatGPT_DFS_woFilter_w2.json"
    results = read_all(path, branches=True)
    branches = [(w, t) for w, t in results if "#branch" in w]
    assert [w for w, _ in branches] == [f"{path}:1#branch{k}" for k in (1, 2, 3)]
    assert [t.id for _, t in branches] == [f"57_ChatGPT_DFS_woFilter_w2#branch{k}" for k in (1, 2, 3)]
    assert [len(t.steps) for _, t in branches] == [3, 6, 5]
    assert all(t.success is False and t.final_answer == "" for _, t in branches)
    assert "gave up" in branches[0][1].failure_reason
    # 69 kept no chosen path: its main record is the tree's best path (index 3 of 9, the
    # first with 5 answered calls), which is not repeated among the branches
    lines = read_all(TOOLBENCH / "69_ChatGPT_DFS_woFilter_w2.json", branches=True)
    assert [len(t.steps) for _, t in lines[1:]] == [6, 5, 5, 5, 2, 2, 4, 4]
    main = lines[0][1]
    assert (main.success, len(main.steps), main.metadata["tree_path"]) == (False, 5, 4)


def test_swe_agent_runs_are_unlabeled():
    path = SWE / "pydicom__pydicom-1458.traj"
    [(where, t)] = read_all(path)
    raw = json.loads(path.read_text())
    assert (where, t.id) == (f"{path}:1", "pydicom__pydicom-1458")
    assert t.success is None and t.reward is None and not t.is_labeled
    assert t.goal.startswith("Pixel Representation attribute should be optional for pixel data")
    assert "INSTRUCTIONS" not in t.goal and "TimeDelta" not in t.goal    # no demonstration
    assert len(t.steps) == 11                                          # 12 turns, minus submit
    assert t.steps[0].action == "create"
    assert t.steps[0].action_input == {"command": "create reproduce_bug.py"}
    assert t.final_answer == raw["info"]["submission"]
    [(_, small)] = read_all(SWE / "swe-agent__test-repo-i1.traj")
    assert [s.action for s in small.steps] == ["find_file", "open", "edit", "python"]


# --- hand-written inputs ------------------------------------------------------------------------

def test_openai_messages(tmp_path):
    rec = {"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Find x"},
        {"role": "assistant", "content": "I will search.", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}},
            {"id": "b", "type": "function", "function": {"name": "echo", "arguments": "[1, 2]"}}]},
        {"role": "tool", "tool_call_id": "b", "content": {"ok": True}},
        {"role": "tool", "tool_call_id": "a", "content": "x = 3"},
        {"role": "assistant", "content": "Which unit?"},
        {"role": "user", "content": "metres"},
        {"role": "assistant", "content": None, "function_call": {"name": "convert", "arguments": "{}"}},
        {"role": "function", "name": "convert", "content": "3 m"},
        {"role": "assistant", "content": "x is 3 m"}]}
    [(where, t)] = read_all(write(tmp_path, "chat.jsonl", [rec]))
    # one line: as good as a one-object JSON file, so the id is the file's stem
    assert where == f"{tmp_path / 'chat.jsonl'}:1" and t.id == "chat"
    assert [s.to_dict() for s in t.steps] == [
        {"thought": "I will search.", "action": "search", "action_input": {"q": "x"},
         "observation": "x = 3"},
        {"thought": "", "action": "echo", "action_input": {"arguments": "[1, 2]"},
         "observation": '{"ok": true}'},
        {"thought": "", "action": "user_message", "action_input": {"content": "Which unit?"},
         "observation": "metres", "role": "user"},
        {"thought": "", "action": "convert", "action_input": {}, "observation": "3 m"}]
    assert (t.goal, t.final_answer, t.metadata["system"]) == ("Find x", "x is 3 m", "be brief")
    assert not t.is_labeled


def test_toolbench_hand_written_labels_and_tree(tmp_path):
    def answer(win, finish_type, tree=None):
        rec = {"answer_generation": {
            "query": "q?", "finish_type": finish_type, "final_answer": "", "function": [],
            "train_messages": [[{"role": "user", "content": "q?"},
                                {"role": "assistant", "content": "look",
                                 "function_call": {"name": "f", "arguments": "{\"a\": 1}"}},
                                {"role": "function", "name": "f", "content": "r"}]]}}
        if win is not None:
            rec["win"] = win
        if tree is not None:
            rec["tree"] = {"tree": tree}
        return rec
    node = lambda kind, text, *children, **kw: {"node_type": kind, "description": text,
                                                "children": list(children), **kw}
    tree = node("Action Input", "", node("Action", "f", node("Action Input", '{"a": 2}',
                                                              observation="dead end")))
    rows = [answer(False, "give_answer"), answer(True, "give_up_and_restart"),
            answer(None, "give_answer", tree)]
    results = read_all(write(tmp_path, "answers.jsonl", rows), "toolbench", branches=True)
    labels = [(t.success, t.failure_reason) for _, t in results if isinstance(t, Trajectory)]
    assert labels == [(False, "win is false"), (False, "finish_type is 'give_up_and_restart'"),
                      (None, None), (False, "abandoned branch of the DFSDT search: pruned")]
    assert results[-1][1].steps == (Step("", "f", {"a": 2}, "dead end"),)


def test_react_plain_log_is_unlabeled(tmp_path):
    log = ("Question: What is x?\nThought: I should look.\nAction: search[x]\n"
           "Observation: x is 3.\nIt is a number.\nThought 2: Done.\nAction 2: finish[3]\n\n"
           "Question: What is y?\nThought 1: look\nAction 1: Lookup[y]\nObservation 1: none\n")
    results = read_all(write(tmp_path, "log.txt", log))
    a, b = (t for _, t in results)
    assert [w for w, _ in results] == [f"{tmp_path / 'log.txt'}:1", f"{tmp_path / 'log.txt'}:9"]
    assert (a.id, a.goal, a.final_answer, a.is_labeled) == ("q1", "What is x?", "3", False)
    assert a.steps == (Step("I should look.", "search", {"argument": "x"}, "x is 3.\nIt is a number."),)
    assert a.metadata["final_thought"] == "Done."
    assert (b.final_answer, b.steps[0].action) == ("", "Lookup")


def test_sharegpt_record(tmp_path):
    rec = {"conversations": [
        {"from": "human", "value": "Weather in Paris?"},
        {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "Paris"}}'},
        {"from": "observation", "value": "18C"},
        {"from": "gpt", "value": "It is 18C."}],
        "tools": '[{"name": "weather", "parameters": {}}]', "system": "You help."}
    labeled = {**rec, "metadata": {"success": False, "id": "w1", "failure_reason": "too slow"}}
    [(_, t), (_, u)] = read_all(write(tmp_path, "sg.json", [rec, labeled]))
    assert (t.id, t.goal, t.final_answer) == ("sg#0", "Weather in Paris?", "It is 18C.")
    assert t.steps == (Step("", "weather", {"city": "Paris"}, "18C"),)
    assert t.tools == ({"name": "weather", "parameters": {}},) and t.metadata["system"] == "You help."
    assert t.success is None and t.reward is None
    assert (u.id, u.success, u.failure_reason) == ("w1", False, "too slow")


def test_native_fills_provenance_only_when_missing(tmp_path):
    rows = [{"id": "a", "goal": "g", "steps": [{"action": "s", "observation": "o"}]},
            {"id": "b", "goal": "g", "steps": [{"action": "s", "observation": "o"}],
             "metadata": {"source_format": "toolbench", "source": "x.json:1"}}]
    path = write(tmp_path, "n.jsonl", rows)
    a, b = (t for _, t in read_all(path))
    assert a.metadata == {"source_format": "native", "source": f"{path}:1"}
    assert b.metadata == {"source_format": "toolbench", "source": "x.json:1"}


# --- bad records: located RecordErrors, never exceptions, never skipped ---------------------------

GOOD_CHAT = {"messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f"}}]},
                          {"role": "tool", "tool_call_id": "1", "content": "ok"}]}


@pytest.mark.parametrize("fmt, name, good_rec, bad_rec, where, line", [
    ("openai", "c.jsonl", GOOD_CHAT,
     {"messages": [*GOOD_CHAT["messages"], {"role": "tool", "tool_call_id": "9", "content": ""}]},
     ":2", "messages[3].tool_call_id: no earlier tool call has id '9'"),
    ("toolbench", "t.jsonl", {"answer_generation": {"query": "q", "train_messages": [[
        {"role": "user", "content": "q"}, {"role": "assistant", "function_call": {"name": "f"}},
        {"role": "function", "content": "r"}]]}},
     {"answer_generation": {"query": 7}}, ":2", "answer_generation.query: expected a string, got a number"),
    ("fireact", "f.json", {"traj": [{"role": "user", "content": "q"},
                                    {"role": "assistant", "content": "Thought: t\nAction: search[x]"},
                                    {"role": "user", "content": "Observation: o"}], "reward": True},
     {"traj": "not a run", "reward": False}, ":#1", "traj: no Action line in the text: not a ReAct run"),
    ("sharegpt", "s.jsonl", {"conversations": [{"from": "human", "value": "q"},
                                               {"from": "function_call", "value": '{"name": "f"}'},
                                               {"from": "observation", "value": "o"}]},
     {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "f("}]},
     ":2", "conversations[1].value: not JSON (Expecting value); expected {\"name\": ..., \"arguments\": ...}"),
    ("swe-agent", "w.jsonl", {"history": [{"role": "user", "content": "fix it"}],
                              "trajectory": [{"action": "ls\n", "observation": "a.py"}]},
     {"history": [{"role": "user", "content": "fix it"}], "trajectory": [{"action": 3}]},
     ":2", "trajectory[0].action: expected a string, got a number"),
    ("native", "n.jsonl", {"id": 1, "goal": "g", "steps": [{"action": "a", "observation": "o"}]},
     {"id": 2, "steps": []}, ":2", "goal: missing"),
])
def test_a_bad_record_is_a_located_error(tmp_path, fmt, name, good_rec, bad_rec, where, line):
    path = write(tmp_path, name, [good_rec, bad_rec, good_rec] if fmt != "native"
                 else [good_rec, bad_rec, {**good_rec, "id": 3}])
    results = read_all(path, fmt)
    assert len(results) == 3 and isinstance(results[0][1], Trajectory)
    assert isinstance(results[2][1], Trajectory)
    where_, err = results[1]
    assert isinstance(err, RecordError)
    assert where_ == err.where == f"{path}{where}"
    assert str(err) == f"{path}{where}: {line}"
    assert adapters.detect_format(path) == fmt


def test_react_log_observation_without_action(tmp_path):
    path = write(tmp_path, "bad.txt", "Question: q\nThought 1: t\nAction 1: search[x]\n"
                 "Observation 1: o\n\nQuestion: q2\nThought 1: t\nObservation 1: o\n")
    (_, ok), (where, err) = read_all(path)
    assert isinstance(ok, Trajectory)
    assert str(err) == f"{path}:6: Observation 1: no Action before it"


def test_malformed_json_line_is_located(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(GOOD_CHAT) + "\n{not json\n" + json.dumps(GOOD_CHAT) + "\n")
    results = read_all(path, "openai")
    assert [type(g).__name__ for _, g in results] == ["Trajectory", "RecordError", "Trajectory"]
    assert results[1][1].line().startswith(f"{path}:2: record: malformed JSON")


def _mutations(value, depth=0):
    """Copies of `value` with one node (up to depth 4) replaced by a value of the wrong type."""
    children = (list(value.items()) if isinstance(value, dict)
                else list(enumerate(value)) if isinstance(value, list) else [])
    for key, child in children[:12]:
        for wrong in (None, 7, "x", [], {}, [None]):
            out = copy.copy(value)
            out[key] = wrong
            yield out
        if depth < 4:
            for sub in _mutations(child, depth + 1):
                out = copy.copy(value)
                out[key] = sub
                yield out


@pytest.mark.parametrize("fmt, records", [
    ("openai", lambda: json.loads(TAU.read_text())[:2]),
    ("react", lambda: list(json.loads(FIREACT.read_text()).values())[:3]),
    ("toolbench", lambda: [json.loads((TOOLBENCH / "57_ChatGPT_DFS_woFilter_w2.json").read_text())]),
    ("swe-agent", lambda: [json.loads((SWE / "swe-agent__test-repo-i1.traj").read_text())]),
])
def test_damaged_real_records_never_raise(tmp_path, fmt, records):
    rows = [m for rec in records() for m in _mutations(rec)]
    path = write(tmp_path, "damaged.jsonl", rows)
    results = read_all(path, fmt, branches=True)
    mains = [w for w, _ in results if "#branch" not in w]
    assert mains == [f"{path}:{i}" for i in range(1, len(rows) + 1)]     # none skipped
    assert all(isinstance(g, (Trajectory, RecordError)) for _, g in results)


def test_damaged_logs_never_raise(tmp_path):
    lines = REFLEXION.read_text(encoding="utf-8").splitlines()[:400]
    for cut in range(0, 400, 7):
        path = write(tmp_path, f"cut{cut}.txt", "\n".join(lines[cut:] + lines[:cut]))
        assert all(isinstance(g, (Trajectory, RecordError)) for _, g in read_all(path, "react"))


# --- round trip through the ShareGPT packager ---------------------------------------------------

def test_native_to_sharegpt_to_native_keeps_goal_and_steps(tmp_path):
    from agenther_local.formats.sharegpt import to_sharegpt
    runs = [t for _, t in read_all(TAU)[:5]] + [
        t for _, t in read_all(TOOLBENCH / "57_ChatGPT_DFS_woFilter_w2.json")]
    runs.append(Trajectory("hand", "Find x", (
        Step("first look", "search", {"q": "x", "n": 2}, "x is 3"),
        Step("ask", "user_message", {"content": "Metres?"}, "yes", role="user"),
        Step("", "convert", {}, '{"m": 3}')), "3 m", tools=({"name": "search"},)))
    path = write(tmp_path, "sg.jsonl", [to_sharegpt(t, t.goal, {"id": t.id}) for t in runs])
    back = read_all(path)
    assert adapters.detect_format(path) == "sharegpt"
    for t, (_, u) in zip(runs, back, strict=True):
        assert (u.id, u.goal, u.steps, u.final_answer, u.tools) == (
            t.id, t.goal, t.steps, t.final_answer, t.tools)
