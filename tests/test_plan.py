"""Goals built from the evidence (stages/plan.py) and sample shaping (stages/shape.py)."""
from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from fakes import ScriptedJudge, demo_record

from agenther_local.adapters import read
from agenther_local.config import RelabelConfig
from agenther_local.evidence.model import RunEvidence
from agenther_local.prompts import Prompts
from agenther_local.stages import plan as plan_module
from agenther_local.stages import shape as shape_module
from agenther_local.stages.plan import plan_goals, render_goal
from agenther_local.stages.relabel import relabel_from_plans
from agenther_local.stages.shape import shape_sample
from agenther_local.stages.verify import verify_goal
from agenther_local.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT.parent / "shared" / "fixtures"
TAU = FIX / "tau_bench_airline" / "gpt-4o-airline.part1of3.json"
TAU2 = FIX / "tau2_bench" / "2025-08-10T02-44-06.496849_telecom_llm_agent_gpt-4o_user_simulator_gpt-4o.json"
PROMPTS = Prompts()




@pytest.mark.parametrize("module", [plan_module, shape_module])
def test_docstring_examples(module):
    r = doctest.testmod(module)
    assert r.failed == 0 and r.attempted > 0


def test_a_run_with_writes_plans_all_of_them_and_its_request_verifies():
    runs = [t for _, t in read(TAU) if isinstance(t, Trajectory) and not t.is_success]
    checked = 0
    for t in runs[:15]:
        ev = RunEvidence.of(t)
        targets = {a.target for a in ev.succeeded_writes}
        if not targets:
            continue
        p, *others = plan_goals(t, ev)
        assert p.kind == "writes" and {a.target for a in p.actions} == targets and p.prefix is None
        first_write = min(a.step for a in ev.succeeded_writes)
        for o in others:       # later plans hold for a prefix of the run that makes fewer writes
            assert o.prefix is not None and o.prefix <= max(a.step for a in ev.succeeded_writes)
            assert o.kind == "writes" or o.last_step < first_write
        assert plan_goals(t, ev, prefixes=False) == [p]
        goal = render_goal(p, PROMPTS)
        v = verify_goal(goal, t)
        assert v.accepted, (t.id, goal, v.reason)
        assert {c.bound_to["step"] for c in v.constraints if c.bound_to} == {a.step for a in p.actions}
        checked += 1
    assert checked >= 5


def test_tau2_user_tool_calls_are_not_planned():
    runs = [t for _, t in read(TAU2) if isinstance(t, Trajectory)]
    for t in runs:
        ev = RunEvidence.of(t)
        for p in plan_goals(t, ev):
            assert all(t.steps[a.step].role == "tool" for a in p.actions)


def test_a_read_only_run_plans_a_question_about_the_record_of_its_answer():
    t = demo_record("demo03_flight_bos_den")      # the final answer names DL 2210 at $228.10
    p = plan_goals(t, RunEvidence.of(t))[0]
    assert p.kind == "lookup" and "DL 2210" in p.subject
    goal = render_goal(p, PROMPTS)
    assert verify_goal(goal, t).accepted


def test_a_plan_that_does_not_verify_is_reported_and_the_writer_is_never_asked_then():
    t = demo_record("demo04_weather_weekend")       # no final answer: its question is never answered
    # samples keeping the whole run (--keep-trajectory) would end without an answer
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False), shaped=False)
    assert rl is not None and not rl.accepted and "unanswered" in rl.reason


def test_a_question_the_run_never_answered_is_answered_by_the_shaped_sample():
    t = demo_record("demo04_weather_weekend")       # the geocode record answers; the run said nothing
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False))
    assert rl is not None and rl.accepted and "Vancouver" in rl.goal
    acc = rl.accepted_attempt
    shaped = shape_sample(t, rl.goal, acc.verification.to_dict(), PROMPTS)
    assert "49.28" in shaped.traj.final_answer and "-123.12" in shaped.traj.final_answer


def _tau_run_with_two_targets():
    for _, t in read(TAU):
        if isinstance(t, Trajectory) and not t.is_success:
            ev = RunEvidence.of(t)
            if len({a.target for a in ev.succeeded_writes}) >= 2:
                return t
    raise AssertionError("no tau-bench failure with writes to two targets")


def test_several_goals_per_run_each_verified_on_the_steps_its_sample_keeps(tmp_path):
    t = _tau_run_with_two_targets()
    one = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False))
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=4))
    assert one.goals == (one.goal,) and rl.goal == one.goal       # N = 1 is the first of N
    assert len(rl.goals) >= 2 and len(set(rl.goals)) == len(rl.goals)
    accepted = [a for a in rl.attempts if a.status == "accepted"]
    bound = [frozenset(json.dumps(c.bound_to, sort_keys=True) for c in a.verification.constraints if c.bound_to)
             for a in accepted]
    assert len(set(bound)) == len(bound)                          # no two goals bound alike
    for a in accepted[1:]:
        plan = json.loads(a.rationale.removeprefix("plan: "))
        assert plan["prefix"] is not None and plan["prefix"] <= len(t.steps)
        assert verify_goal(a.goal, t.upto(plan["prefix"]), answer_written=True).accepted
        # the whole run does more than such a goal asks: it fails there
        assert not verify_goal(a.goal, t).accepted


def test_the_runner_writes_one_sample_per_goal_each_cut_to_its_own_steps(tmp_path):
    from agenther_local.runner import RunOptions, _Outputs, _shaper
    t = _tau_run_with_two_targets()
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=3))
    entry = {"id": t.id, "record": t.to_dict(), "status": "accepted", "goal": rl.goal, "goals": list(rl.goals),
             "relabel": rl.to_dict(), "weight": 1.0, "confidence": 1.0, "reason": rl.reason}
    out = _Outputs(tmp_path, ("sft", "dpo"), _shaper(RunOptions(inputs=[], outdir=tmp_path)))
    out.add(json.loads(json.dumps(entry)))
    out.commit()
    rows = [json.loads(l) for l in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in rows] == list(rl.goals)
    assert [r["metadata"]["goal_index"] for r in rows] == list(range(len(rl.goals)))
    calls = [sum(1 for m in r["messages"] if m.get("tool_calls")) for r in rows]
    assert calls[0] > max(calls[1:])           # the whole run's goal keeps the most steps
    dpo = [json.loads(l) for l in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert len(dpo) == len(rows)


def test_near_duplicate_goals_are_dropped_by_wording_when_an_embedder_is_given():
    from fakes import FakeEmbedder
    t = _tau_run_with_two_targets()
    loose = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=6))
    # every goal's wording is "too close" at cosine 0: only the first survives
    tight = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=6, max_goal_cosine=0.0),
                               embedder=FakeEmbedder())
    assert len(loose.goals) >= 2 and tight.goals == (loose.goal,)
    assert any(a.status == "near_duplicate" and "cosine" in a.detail for a in tight.attempts)


def test_a_paraphrase_is_kept_only_when_it_binds_the_same_calls():
    t = demo_record("demo02_laptop_cart")
    plain = render_goal(plan_goals(t, RunEvidence.of(t))[0], PROMPTS)
    good = ScriptedJudge(id="w").enqueue_json("paraphrase", {"goal": "Please put one TM-90417 in my cart."})
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(), writer=good)
    assert rl.accepted and rl.goal == "Please put one TM-90417 in my cart." and "paraphrase verified" in rl.reason
    # a rewording that adds a claim (a price the run never paid) falls back to the plain request
    bad = ScriptedJudge(id="w").enqueue_json("paraphrase", {"goal": "Add TM-90417 to my cart and pay $5."})
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(), writer=bad)
    assert rl.accepted and rl.goal == plain and "failed verification" in rl.reason
    unparsable = ScriptedJudge(id="w").enqueue_text("paraphrase", "{not json")
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(), writer=unparsable)
    assert rl.accepted and rl.goal == plain


def test_shaping_cuts_steps_after_the_last_bound_one_and_writes_the_answer():
    t = demo_record("demo11_headphones_offtopic")    # the Sennheiser page is the last step; Sony is step 1
    goal = 'What are the battery and weight of "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"?'
    v = verify_goal(goal, t)
    assert v.accepted, v.reason
    s = shape_sample(t, goal, v.to_dict(), PROMPTS)
    assert s.steps_cut == len(t.steps) - 2 and len(s.traj.steps) == 2
    assert s.final_answer_rewritten and "30 hours" in s.traj.final_answer and "Sennheiser" not in s.traj.final_answer


def test_shaping_keeps_a_supported_final_answer_that_answers_the_goal():
    from agenther_local.trajectory import Step
    t = Trajectory("f", "Book a flight", (
        Step("", "search_flights", {"to": "DEN"}, '[{"flight_number": "DL2210", "price": 228.10}, {"flight_number": "UA100", "price": 150}]'),
    ), final_answer="DL2210 costs $228.10.")
    goal = "What does DL2210 cost, $228.10?"
    v = verify_goal(goal, t)
    assert v.accepted, v.reason
    s = shape_sample(t, goal, v.to_dict(), PROMPTS)
    assert s.steps_cut == 0 and not s.final_answer_rewritten and s.traj == t
    # the same run whose final message claims a price no tool showed gets a written one
    t2 = Trajectory("f", "Book a flight", t.steps, final_answer="DL2210 costs $199.")
    s2 = shape_sample(t2, goal, verify_goal(goal, t2).to_dict(), PROMPTS)
    assert s2.final_answer_rewritten and "228.1" in s2.traj.final_answer and "$199" not in s2.traj.final_answer


def test_the_runner_writes_shaped_samples_and_the_dpo_rejected_side_keeps_the_run(tmp_path):
    from agenther_local.runner import RunOptions, _Outputs, _shaper
    t = demo_record("demo11_headphones_offtopic")
    goal = 'What are the battery and weight of "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"?'
    v = verify_goal(goal, t)
    entry = {"status": "accepted", "id": t.id, "record": t.to_dict(), "goal": goal, "weight": 0.6,
             "relabel": {"attempts": [{"status": "accepted", "goal": goal, "verification": v.to_dict()}]}}
    opts = RunOptions(inputs=[], outdir=tmp_path)
    out = _Outputs(tmp_path, ("sft", "dpo"), _shaper(opts))
    out.add(entry)
    out.commit()
    sft = json.loads((tmp_path / "sft.jsonl").read_text())
    assert sft["metadata"]["shaping"]["steps_cut"] == len(t.steps) - 2
    text = json.dumps(sft["messages"])
    # the later product pages (Bose, Sennheiser: "up to 60 hours") are cut
    assert "up to 60 hours" not in text and "30 hours" in sft["messages"][-1]["content"]
    dpo = json.loads((tmp_path / "dpo.jsonl").read_text())
    assert "up to 60 hours" in json.dumps(dpo)       # the rejected side keeps the whole run
    # --keep-trajectory: the run as it was, no shaping metadata
    keep = tmp_path / "keep"
    keep.mkdir()
    out = _Outputs(keep, ("sft",), None)
    out.add(entry)
    out.commit()
    sft = json.loads((keep / "sft.jsonl").read_text())
    assert "shaping" not in sft["metadata"] and "up to 60 hours" in json.dumps(sft["messages"])


def test_a_paraphrase_of_a_question_is_compared_by_the_record_it_binds():
    t = demo_record("demo03_flight_bos_den")
    plain = render_goal(plan_goals(t, RunEvidence.of(t))[0], PROMPTS)
    same = ScriptedJudge(id="w").enqueue_json("paraphrase", {"goal": plain.replace("What are", "Tell me")})
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(), writer=same)
    assert rl.accepted and rl.goal.startswith("Tell me") and "paraphrase verified" in rl.reason


def test_rule_based_asks_no_model_and_loads_none():
    """`--rule-based`: plans only. Every demo record is decided without loading a model."""
    from agenther_local.config import Config
    from agenther_local.pipeline import PipelineOptions, build_pipeline
    pipe, judges, _ = build_pipeline(PipelineOptions(jury="fast", rule_based=True, no_model=True, use_cache=False),
                                     Config())
    entries = [pipe.process(Trajectory.from_dict(json.loads(l)))
               for l in (ROOT / "examples" / "demo.jsonl").read_text().splitlines()]
    assert judges and all(getattr(j, "_loaded", None) is None and j.stats.calls == 0 for j in judges.values())
    accepted = [e for e in entries if e["status"] == "accepted"]
    assert len(accepted) >= 6 and all(e["reason"].startswith("built from the evidence") for e in accepted)
    for e in accepted:           # every accepted goal verifies on its own run (its sample's answer is written)
        assert verify_goal(e["goal"], Trajectory.from_dict(e["record"]), answer_written=True).accepted


def test_cli_rule_based_writes_samples_without_a_model(tmp_path):
    from click.testing import CliRunner
    from agenther_local.cli import cli
    from agenther_local.cli import commands  # noqa: F401
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(ROOT / "examples" / "demo.jsonl"), "-o", str(out), "--rule-based",
                                   "--no-report", "--quiet", "--no-cache"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(l) for l in (out / "sft.jsonl").read_text().splitlines()]
    assert len(rows) >= 6 and all(r["metadata"]["reason"].startswith("built from the evidence") for r in rows)
    rejected = {r["id"]: r for r in map(json.loads, (out / "rejected.jsonl").read_text().splitlines())}
    # grep output no plan covers, and no model asked: named so, not as a low confidence
    assert rejected["demo10_grep_legacy_auth"]["rejected_by"] == "relabel:no_plan"


def test_a_success_row_with_include_successes_does_not_break_the_output_folder(tmp_path):
    """`run --include-successes` wrote sft_success.jsonl, then dataset_info refused the name."""
    from agenther_local.runner import _Outputs
    t = demo_record("demo03_flight_bos_den")
    out = _Outputs(tmp_path, ("sft", "sharegpt"), None)
    out.add({"status": "success", "id": t.id, "record": t.to_dict()})
    written = out.commit()
    assert written["sft_success.jsonl"] == 1
    assert json.loads((tmp_path / "sft_success.jsonl").read_text())["messages"][0]["content"] == t.goal
    assert "agenther_sharegpt" in json.loads((tmp_path / "dataset_info.json").read_text())


def test_cli_goals_per_run_writes_several_samples_per_run_and_resumes_to_the_same_bytes(tmp_path):
    from click.testing import CliRunner
    from agenther_local.cli import cli
    from agenther_local.cli import commands  # noqa: F401
    demo = str(ROOT / "examples" / "demo.jsonl")
    args = ["--rule-based", "--no-report", "--quiet", "--no-cache"]
    one, three = tmp_path / "one", tmp_path / "three"
    assert CliRunner().invoke(cli, ["run", demo, "-o", str(one), *args]).exit_code == 0
    res = CliRunner().invoke(cli, ["run", demo, "-o", str(three), "--goals-per-run", "3", *args])
    assert res.exit_code == 0, res.output
    rows1 = [json.loads(l) for l in (one / "sft.jsonl").read_text().splitlines()]
    rows3 = [json.loads(l) for l in (three / "sft.jsonl").read_text().splitlines()]
    assert len(rows3) > len(rows1)
    by_run: dict[str, list[str]] = {}
    for r in rows3:
        by_run.setdefault(r["metadata"]["trajectory_id"], []).append(r["messages"][0]["content"])
    assert max(len(g) for g in by_run.values()) >= 2 and all(len(g) <= 3 and len(set(g)) == len(g) for g in by_run.values())
    firsts = {r["metadata"]["trajectory_id"]: r["messages"][0]["content"] for r in rows3 if r["metadata"]["goal_index"] == 0}
    assert firsts == {r["metadata"]["trajectory_id"]: r["messages"][0]["content"] for r in rows1}
    # the report lists each record's other goals next to its first
    assert CliRunner().invoke(cli, ["report", str(three)]).exit_code == 0
    html = (three / "report.html").read_text()
    extra = next(g for g in by_run.values() if len(g) >= 2)[1]
    assert "more goal(s) of this run" in html and html.count(extra.replace('"', "&quot;")) >= 1
    # a rerun into the same folder rebuilds the outputs from the journal: the same bytes
    before = (three / "dpo.jsonl").read_bytes()
    assert CliRunner().invoke(cli, ["run", demo, "-o", str(three), "--goals-per-run", "3", *args]).exit_code == 0
    assert (three / "dpo.jsonl").read_bytes() == before


def test_goals_per_run_below_one_is_refused_with_the_file_and_key(tmp_path):
    from agenther_local.config import load_config
    from agenther_local.errors import ConfigError
    bad = tmp_path / "c.toml"
    bad.write_text("[relabel]\ngoals_per_run = 0\n")
    with pytest.raises(ConfigError, match=r"c.toml: \[relabel\] goals_per_run must be at least 1"):
        load_config(bad)
    bad.write_text('[relabel]\ngoals_per_run = "3"\n')
    with pytest.raises(ConfigError, match=r"c.toml: \[relabel\] goals_per_run = '3': expected int"):
        load_config(bad)


def test_a_question_sample_keeps_only_the_steps_its_answer_needs():
    """demo03 searched BOS-DEN flights under $250 twice, then fetched DL 2210's fare: the goal
    about DL 2210's fare needs only that call (its flight and date are in the goal)."""
    t = demo_record("demo03_flight_bos_den")
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False))
    ver = rl.accepted_attempt.verification.to_dict()
    shaped = shape_sample(t, rl.goal, ver, PROMPTS)
    assert [s.action for s in shaped.traj.steps] == ["get_fare_details"]
    assert shaped.steps_dropped == (0, 1) and shaped.final_answer_rewritten
    assert all(s.thought == "" for s in shaped.traj.steps)
    assert "68" in shaped.traj.final_answer and "228.1" in shaped.traj.final_answer
    # a free-text search query starts the chain: the search, then the page its result linked;
    # the other supplier page the run opened in between is dropped
    t1 = demo_record("demo01_copper_wire")
    rl1 = relabel_from_plans(t1, PROMPTS, RelabelConfig(paraphrase=False))
    s1 = shape_sample(t1, rl1.goal, rl1.accepted_attempt.verification.to_dict(), PROMPTS)
    assert s1.steps_dropped == (1,) and [s.action_input for s in s1.traj.steps] == \
        [t1.steps[0].action_input, t1.steps[2].action_input]
    # a value of the original request no output shows (demo04's forecast date): kept as run
    t4 = demo_record("demo04_weather_weekend")
    rl4 = relabel_from_plans(t4, PROMPTS, RelabelConfig(paraphrase=False))
    s4 = shape_sample(t4, rl4.goal, rl4.accepted_attempt.verification.to_dict(), PROMPTS)
    assert s4.steps_dropped == () and len(s4.traj.steps) == 4


def test_a_goal_of_writes_is_never_thinned():
    t = _tau_run_with_two_targets()
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False))
    shaped = shape_sample(t, rl.goal, rl.accepted_attempt.verification.to_dict(), PROMPTS)
    assert shaped.steps_dropped == () and shaped.traj.steps == t.steps[: len(shaped.traj.steps)]


def test_cli_verify_steps_checks_a_prefix_goal_as_its_sample_was_cut(tmp_path):
    from click.testing import CliRunner
    from agenther_local.cli import cli
    from agenther_local.cli import commands  # noqa: F401
    t = _tau_run_with_two_targets()
    rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=3))
    a = next(a for a in rl.attempts[1:] if a.status == "accepted")
    prefix = json.loads(a.rationale.removeprefix("plan: "))["prefix"]
    f = tmp_path / "run.jsonl"
    f.write_text(json.dumps(t.to_dict()) + "\n")
    whole = CliRunner().invoke(cli, ["verify", "--goal", a.goal, "--trajectory", str(f)])
    cut = CliRunner().invoke(cli, ["verify", "--goal", a.goal, "--trajectory", str(f), "--steps", str(prefix)])
    assert whole.exit_code == 1 and "REJECTED" in whole.output           # the whole run did more
    assert cut.exit_code == 0 and "ACCEPTED" in cut.output, cut.output
    bad = CliRunner().invoke(cli, ["verify", "--goal", a.goal, "--trajectory", str(f), "--steps", "999"])
    assert bad.exit_code == 1 and bad.output.strip() == f"Error: --steps 999: run '{t.id}' in {f} has only {len(t.steps)} steps"


def test_a_question_whose_sample_would_keep_a_users_turn_is_refused():
    """tau-bench: the user's turns ask for the run's own request; a question whose needed steps
    cannot leave them out is refused, one whose answer needs only a lookup keeps none."""
    runs = [t for _, t in read(TAU) if isinstance(t, Trajectory) and not t.is_success]
    refused = kept = 0
    for t in runs[:20]:
        rl = relabel_from_plans(t, PROMPTS, RelabelConfig(paraphrase=False, goals_per_run=3))
        if rl is None:
            continue
        refused += sum(a.status == "verify:user_turns" for a in rl.attempts)
        for a in rl.attempts:
            if a.status == "accepted" and json.loads(a.rationale.removeprefix("plan: "))["kind"] == "lookup":
                shaped = shape_sample(t, a.goal, a.verification.to_dict(), PROMPTS)
                assert all(s.role != "user" for s in shaped.traj.steps), (t.id, a.goal)
                kept += 1
    assert refused >= 1 and kept >= 1


def test_a_write_nothing_names_gets_no_request_and_its_prefix_is_planned_instead():
    """SWE-agent 0.x `edit 35:43` edits the file opened earlier: a request for it would be the
    bare verb ("then edit ."). The run's writes up to the create before it are still a goal."""
    from agenther_local.trajectory import Step
    steps = (Step("", "create", {"command": "create reproduce.py"}, "[File: /testbed/reproduce.py (1 lines total)]"),
             Step("", "edit", {"command": "edit 1:1\nfrom django.utils.decorators import method_decorator\n"
                                          "from functools import wraps\nend_of_edit"}, "File updated."),)
    t = Trajectory("swe", "Fix the bug", steps, "", success=False)
    ev = RunEvidence.of(t)
    assert len(ev.succeeded_writes) == 2
    plans = plan_goals(t, ev)
    assert [p.prefix for p in plans] == [1] and "reproduce.py" in render_goal(plans[0], PROMPTS)


def test_resuming_a_journal_of_other_settings_says_so(tmp_path):
    """A re-run into an OUTDIR keeps the journal's decisions; when they were made with other
    settings (an upgrade, another flag), the run says which and how to decide them again."""
    from click.testing import CliRunner
    from agenther_local.cli import cli
    from agenther_local.cli import commands  # noqa: F401
    demo, out = str(ROOT / "examples" / "demo.jsonl"), tmp_path / "o"
    args = ["run", demo, "-o", str(out), "--rule-based", "--no-report", "--quiet", "--no-cache"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    same = CliRunner().invoke(cli, args)
    assert same.exit_code == 0 and "resumed: 12" in same.stdout and "other settings" not in same.stderr
    other = CliRunner().invoke(cli, args + ["--goals-per-run", "2"])
    assert other.exit_code == 0 and "resumed: 12" in other.stdout
    assert f"note: they were decided with other settings (relabel.goals_per_run); delete {out}" in other.stderr
