"""Properties of the llama.cpp judge (agenther_local/judges/llama.py) on the real SmolLM2 GGUF.

Properties, not wording: constrained JSON is never cut and what closes matches its schema, P(yes) is a probability and is
reproducible, a grounded goal scores above an unrelated one, an oversized observation is cut
(and the cut recorded) instead of crashing llama.cpp, and a run's KV prefix is reused.

SmolLM2 is enough for the grounded-vs-unrelated case chosen here (measured: 0.52 against 0.36
with the `verify` prompt; Qwen-0.5B gave 0.33 against 0.31 on the same pair, so it is not the
sharper model for this test).
"""
from __future__ import annotations

import pytest

from agenther_local.config import RelabelConfig, RuntimeConfig
from agenther_local.judges.context import MARK, fit
from agenther_local.judges.generation import fit_budget
from agenther_local.judges.jury import Juror, Jury
from agenther_local.judges.llama import LlamaJudge, unload_all
from agenther_local.judges.manifest import get_manifest, verify
from agenther_local.prompts import Prompts
from agenther_local.stages.relabel import SCHEMA
from agenther_local.trajectory import Trajectory

pytestmark = pytest.mark.real_model

MODEL = "smollm2-135m"
GROUNDED = "What is the weather in Paris today?"
UNRELATED = "Book a table for two at an Italian restaurant in Tokyo tonight."
RUN = Trajectory.from_dict({
    "id": "w", "goal": GROUNDED, "success": False,
    "steps": [{"thought": "I should look up the weather.", "action": "get_weather",
               "action_input": {"city": "Paris"},
               "observation": "Paris, France: 18 C, light rain, wind 12 km/h from the west."}],
    "final_answer": "It is 18 C with light rain in Paris."})


@pytest.fixture(scope="module", autouse=True)
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTHER_LOCAL_HOME", str(tmp_path_factory.mktemp("home")))
        yield
    unload_all()


@pytest.fixture(scope="module")
def manifest(home):
    m = get_manifest(MODEL)
    verify(m)       # a missing weight package fails here, naming it
    return m


@pytest.fixture
def judge(manifest):
    """A judge per test; the loaded GGUF itself is shared through judges/llama.py's pool.

    subtle: not module-scoped, because a judge keeps its loaded model and
    test_p_yes_is_a_probability_and_reproducible closes every model with unload_all().
    """
    return LlamaJudge(manifest, RuntimeConfig(seed=0))


@pytest.fixture(scope="module")
def prompts():
    return Prompts()


def assert_fits_relabel_schema(d: dict) -> None:
    assert set(d) == set(SCHEMA["required"])
    props = SCHEMA["properties"]
    assert isinstance(d["goal"], str) and len(d["goal"]) <= props["goal"]["maxLength"]
    assert isinstance(d["rationale"], str) and len(d["rationale"]) <= props["rationale"]["maxLength"]
    assert isinstance(d["valid"], bool)
    cons = props["constraints"]
    assert isinstance(d["constraints"], list) and 1 <= len(d["constraints"]) <= cons["maxItems"]
    facts = cons["items"]["properties"]["facts"]
    # Each constraint holds at least one item (asserted above), so this loop always runs; the
    # bounds below fail if the grammar llama.cpp builds from the schema drops minItems/maxItems.
    for c in d["constraints"]:
        assert set(c) == {"part", "facts"} and isinstance(c["part"], str)
        assert 1 <= len(c["facts"]) <= facts["maxItems"]   # can fail: a grammar without the schema's item bounds
        assert all(isinstance(f, int) and not isinstance(f, bool) for f in c["facts"])
    assert list(d)[0] == "goal"                       # the goal is written before what it cites


def test_the_schema_check_refuses_facts_outside_the_schemas_item_bounds():
    """The check the real-model tests apply to each draft can fail: a constraint citing no fact,
    or more facts than the schema allows (what a grammar without minItems/maxItems would let a
    model write), is refused."""
    facts_max = SCHEMA["properties"]["constraints"]["items"]["properties"]["facts"]["maxItems"]
    good = {"goal": "g", "constraints": [{"part": "p", "facts": [1]}], "valid": True, "rationale": "r"}
    assert_fits_relabel_schema(good)
    for facts in ([], list(range(1, facts_max + 2))):
        bad = {**good, "constraints": [{"part": "p", "facts": facts}]}
        with pytest.raises(AssertionError):
            assert_fits_relabel_schema(bad)


def test_constrained_json_is_never_cut_and_what_closes_fits_its_schema(judge, prompts):
    """Properties, whatever text this machine's build samples (issue 18: on an AVX-512 CPU the
    writer looped until the old 400-token cap): every draft either closes its JSON within the
    schema-derived budget, and then parses and fits the schema, or is stopped early as
    degenerate and says why. None is ever cut at the budget."""
    from agenther_local.config import DetectConfig
    from agenther_local.stages.extract import RuleExtractor, extract_outcome

    outcome = extract_outcome(RUN, RuleExtractor(), DetectConfig())
    rendered = prompts.render("relabel", traj=RUN, outcome=outcome, original_goal=RUN.goal)
    schema, budget = fit_budget(SCHEMA)
    finishes = []
    for seed in range(4):
        gen = judge.generate_json(rendered, schema, RelabelConfig().first_temperature, seed, budget)
        finishes.append(gen.finish)
        assert gen.finish in ("stop", "repetition"), (gen.finish, gen.error, gen.text)
        assert 0 < gen.completion_tokens <= budget
        if gen.finish == "stop":
            assert gen.error is None, gen.text
            assert_fits_relabel_schema(gen.data)
        else:
            assert gen.data is None and gen.error.startswith("degenerate: ")
            assert gen.completion_tokens < budget          # stopped early, not at the cap
    assert len(finishes) == 4


def test_a_small_schema_always_closes(judge, prompts):
    """A schema whose every value is short closes on any build: parses, fits, within budget."""
    schema = {"type": "object", "properties": {"answer": {"type": "boolean"},
                                               "city": {"type": "string", "maxLength": 20}},
              "required": ["answer", "city"]}
    schema, budget = fit_budget(schema)
    gen = judge.generate_json(prompts.render("verify", traj=RUN, goal=GROUNDED), schema, 0.0, 0, budget)
    assert gen.finish == "stop" and gen.error is None, gen.text
    assert set(gen.data) == {"answer", "city"} and isinstance(gen.data["answer"], bool)
    assert len(gen.data["city"]) <= 20 and gen.completion_tokens <= budget


def test_a_gpu_build_would_be_told_what_was_offloaded(manifest, monkeypatch, capfd):
    """The offload notice on a real load (llama.cpp's GPU support answer monkeypatched: a CPU
    build accepts n_gpu_layers and keeps every layer on the CPU)."""
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    unload_all()
    LlamaJudge(manifest, RuntimeConfig(seed=0))._model()
    err = capfd.readouterr().err
    unload_all()
    assert "smollm2-135m" in err.lower() and "all 30 layers offloaded to " in err, err


def test_p_yes_is_a_probability_and_reproducible(manifest, prompts):
    rendered = prompts.render("verify", traj=RUN, goal=GROUNDED)
    unload_all()                         # each judge loads the GGUF afresh: an empty KV cache
    first = LlamaJudge(manifest, RuntimeConfig(seed=0)).p_yes(rendered)
    unload_all()
    second = LlamaJudge(manifest, RuntimeConfig(seed=0)).p_yes(rendered)
    assert 0.0 <= first.p_yes <= 1.0 and 0.0 < first.mass <= 1.0
    assert first.reused_tokens == 0 and second.reused_tokens == 0
    assert (second.p_yes, second.mass, second.top_token) == (first.p_yes, first.mass, first.top_token)


def test_a_grounded_goal_beats_an_unrelated_one(judge, prompts):
    grounded = judge.p_yes(prompts.render("verify", traj=RUN, goal=GROUNDED))
    unrelated = judge.p_yes(prompts.render("verify", traj=RUN, goal=UNRELATED))
    assert grounded.p_yes > unrelated.p_yes + 0.05, (grounded.p_yes, unrelated.p_yes)


def test_the_run_prefix_is_reused_across_goals(judge, prompts):
    judge.p_yes(prompts.render("verify", traj=RUN, goal=GROUNDED))
    before = judge.stats.reused_tokens
    second = judge.p_yes(prompts.render("verify", traj=RUN, goal=UNRELATED))
    assert second.reused_tokens > second.prompt_tokens // 2    # everything up to <request>
    assert judge.stats.reused_tokens == before + second.reused_tokens


def test_an_oversized_observation_is_cut_scored_and_recorded(manifest, prompts):
    huge = "Paris, France: 18 C, light rain. " + "The forecast archive repeats. " * 7000   # ~210 KB
    run = Trajectory.from_dict({**RUN.to_dict(), "steps": [{**RUN.steps[0].to_dict(), "observation": huge}]})
    small = LlamaJudge(manifest, RuntimeConfig(n_ctx=512))     # a small context keeps the test fast
    jury = Jury([Juror(small, "verify", 0.5, "test")], prompts=prompts)
    rendered, cuts = fit(small, prompts, "verify", run, jury.answer_reserve, goal=GROUNDED)
    assert small.count_tokens(rendered) <= small.n_ctx - jury.answer_reserve
    assert MARK.split("{n}")[0] in rendered.user
    assert [(c.step, c.original_chars) for c in cuts] == [(0, len(huge))]
    vote = jury.ask(jury.jurors[0], run, GROUNDED)          # the journaled vote carries the cut
    assert 0.0 <= vote.p_yes <= 1.0 and vote.prompt_tokens < small.n_ctx
    assert vote.to_dict()["cuts"] == [{"step": 0, "original_chars": len(huge), "kept_chars": cuts[0].kept_chars}]
