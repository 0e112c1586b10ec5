"""Page evidence and web plans on real browser-use runs (shared fixtures): records of a page,
which clicks are writes, which writes a later page shows took effect, and the goals built
from them. What each page showed is read here from the raw history.json text.
"""
from __future__ import annotations

import doctest
import json

import pytest

from agenther_local import adapters
from agenther_local.evidence import pages
from agenther_local.evidence.bind import bind_goal
from agenther_local.evidence.model import RunEvidence
from agenther_local.prompts import Prompts
from agenther_local.stages import web_plan
from agenther_local.stages.plan import plan_goals, render_goal

from test_adapters import FIXTURES

BU = FIXTURES / "browser_use_webarena_infinity"
GMAIL = BU / "gmail" / "gemini_20260225_233144_tasks-function-test_parallel"
LINEAR = BU / "linear-account-settings" / "gemini_20260219_022152_parallel"


def run(folder):
    (_, t), = adapters.read(folder)
    return t


def raw_page(folder, item: int) -> str:
    return json.loads((folder / "history.json").read_text())["history"][item]["state_message"]


@pytest.mark.parametrize("module", [pages, web_plan])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_a_settings_radio_is_one_record_with_its_section_and_state():
    t = run(GMAIL / "task_m15")
    ev = RunEvidence.of(t)
    radios = [r for r in ev.records if dict(r.fields).get("input.value") == "comfortable"]
    assert radios, "the density radio is a record"
    r = radios[0]
    f = dict(r.fields)
    assert f["text"] == "Comfortable" and f["section"] == "Density / Display density"
    assert f["input.name"] == "density" and f["url"].endswith("#/settings")
    # the record is the line the page showed, as the raw prompt has it
    assert "name=density value=comfortable" in raw_page(GMAIL / "task_m15", r.step + 1)


def test_a_switch_the_next_page_shows_turned_on_is_a_succeeded_write():
    t = run(LINEAR / "task_e6")
    # the raw pages: the mobile switch was off before the click and on after it
    before, after = raw_page(LINEAR / "task_e6", 3), raw_page(LINEAR / "task_e6", 4)
    assert "id=channel-mobile role=switch aria-checked=false" in before
    assert "id=channel-mobile role=switch aria-checked=true" in after
    writes = RunEvidence.of(t).writes
    assert [(w.name, w.status, w.verb) for w in writes] == [("click", "succeeded", "enable")]
    assert writes[0].args["element"] == "Mobile" and "aria-checked=true" in writes[0].args["effect"]


def test_navigation_typing_and_clicks_no_page_confirms_are_never_succeeded_writes():
    t = run(GMAIL / "task_h10")
    acts = RunEvidence.of(t).actions
    assert all(a.kind == "read" for a in acts if a.name in ("navigate", "scroll", "search_page"))
    apply = [a for a in acts if a.args.get("element") == "Apply"]
    assert apply and all(a.status == "unknown" for a in apply)
    # the row's selection box is a read; the label picker's box is a pending choice (no save seen)
    assert not any(a.succeeded and "Clients" in a.args.get("element", "") and a.verb != "enable" for a in acts)


def test_a_form_submit_carries_what_was_typed_and_succeeds_on_its_banner():
    t = run(GMAIL / "task_e3")
    ok = RunEvidence.of(t).succeeded_writes
    assert len(ok) == 1
    a = ok[0]
    assert a.args["element"] == "Create Filter" and a.args["chosen"] == ["From: carlos.m@logisticspro.net"]
    assert "carlos.m@logisticspro.net" in a.args["effect"]
    inputs = [x for x in RunEvidence.of(t).actions if x.name == "input"]
    assert inputs and all(x.kind == "read" for x in inputs)     # pending until the form's submit


def test_the_plan_of_a_switch_run_is_what_the_page_shows_not_the_final_claim():
    t = run(LINEAR / "task_e6")
    assert "disabled" in t.final_answer.lower()                      # the agent's claim
    ev = RunEvidence.of(t)
    plans = plan_goals(t, ev)
    assert [p.kind for p in plans] == ["writes"]
    goal = render_goal(plans[0], Prompts())
    assert goal == "Turn on Mobile on the Notifications page."
    assert all(b.holds for b in bind_goal(goal, ev))


def test_a_plan_the_state_checker_contradicts_is_refused():
    t = run(GMAIL / "task_e5")
    ev = RunEvidence.of(t)
    deletes = [a for a in ev.succeeded_writes if a.verb == "delete"]
    assert deletes, "the page shows the row gone after Delete"
    why = web_plan.checker_refuses(t, tuple(deletes))
    assert why and "claim your $500 amazon gift card" in why
    assert plan_goals(t, ev) == []


def test_a_checker_that_confirms_the_new_state_does_not_refuse_it():
    t = run(LINEAR / "task_e6")
    assert "got True" in t.metadata["verifier_message"]
    assert web_plan.checker_refuses(t, tuple(RunEvidence.of(t).succeeded_writes)) is None


def test_records_of_a_page_never_hold_the_agents_history():
    t = run(GMAIL / "task_e3")
    texts = " ".join(r.text for r in RunEvidence.of(t).records)
    hist = json.loads((GMAIL / "task_e3" / "history.json").read_text())["history"]
    memory = [h["model_output"]["memory"] for h in hist[1:] if h["model_output"].get("memory")]
    assert memory and not any(m in texts for m in memory)
