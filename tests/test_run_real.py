"""End to end with real GGUF judges and the real embedder (marked real_model).

The demo input through `agenther-local run`: outputs are well-formed, load with the `datasets`
JSON loader, every accepted sample explains itself (votes, evidence), and the journal holds
one line per record. Counts of accepted samples depend on the models, so the assertions are
about properties, not numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenther_local.cli import cli
from agenther_local.cli import commands  # noqa: F401  (registers the commands)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.jsonl"

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The whole bundled demo, as `make demo` runs it (about 4 minutes on 2 cores)."""
    out = tmp_path_factory.mktemp("demo-run")
    subset = out / "in.jsonl"
    subset.write_text(DEMO.read_text())
    res = CliRunner().invoke(cli, ["run", str(subset), "-o", str(out / "o"), "--quiet", "--jury", "fast", "--no-report"])
    return res, out / "o"


def test_run_exits_cleanly_and_prints_summary(demo_run):
    res, out = demo_run
    assert res.exit_code == 0, res.output
    assert "12 read, 0 invalid" in res.output
    assert "12 failures" in res.output


def test_every_output_file_is_written(demo_run):
    _, out = demo_run
    for name in ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl", "rejected.jsonl",
                 "dataset_info.json", "manifest.json", "journal.jsonl", "invalid.jsonl"):
        assert (out / name).exists(), name


def test_irrecoverable_and_hallucinated_runs_are_rejected_with_their_stage(demo_run):
    _, out = demo_run
    rejected = {r["id"]: r for r in map(json.loads, (out / "rejected.jsonl").read_text().splitlines())}
    assert rejected["demo06_hotel_503"]["rejected_by"] == "detect:not_recoverable"
    assert rejected["demo08_museum_hallucination"]["rejected_by"] == "detect:discarded_w"


def test_copper_wire_is_never_relabeled_to_the_unmet_constraints(demo_run):
    _, out = demo_run
    for line in (out / "sft.jsonl").read_text().splitlines():
        row = json.loads(line)
        goal = row["messages"][0]["content"] if row["messages"][0]["role"] == "user" else row["messages"][1]["content"]
        if row["metadata"]["trajectory_id"] == "demo01_copper_wire":
            assert "$5/kg" not in goal and "under $5" not in goal


def test_journal_has_header_and_one_line_per_record(demo_run):
    _, out = demo_run
    lines = (out / "journal.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["format"] == "agenther-local journal"
    ids = [json.loads(l)["id"] for l in lines[1:]]
    assert sorted(ids) == sorted(json.loads(l)["id"] for l in DEMO.read_text().splitlines())


def test_manifest_records_models_templates_and_thresholds(demo_run):
    _, out = demo_run
    m = json.loads((out / "manifest.json").read_text())
    # the fast preset: the 0.5B writes, the calibrated 1.5B checks (and answers narrow questions)
    assert set(m["models"]) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    assert m["jury"]["writer"] == "qwen2.5-coder-0.5b"
    assert all(len(sha) == 64 for sha in m["templates"].values())
    check = m["jury"]["self_check"]
    assert check["juror"] == "qwen2.5-coder-1.5b@verify"
    assert check["threshold_source"].startswith("calibrated 2026-")   # from models/qwen2.5-coder-1.5b.toml
    assert m["jury"]["rule"] == "single"


@pytest.fixture(scope="module")
def permissive_run(demo_run, tmp_path_factory):
    """The first three demo runs with every juror's θ at 0, so the accepted-sample checks below
    always have samples whatever a judge would say (the fast preset builds their goals from
    plans; a θ matters only for free-text drafts). The writer's calls repeat the demo run's,
    so they come from the call cache."""
    out = tmp_path_factory.mktemp("permissive")
    subset = out / "in.jsonl"
    subset.write_text("".join(DEMO.read_text().splitlines(keepends=True)[:3]))
    res = CliRunner().invoke(cli, ["run", str(subset), "-o", str(out / "o"), "--quiet", "--jury", "fast",
                                   "--no-report", "--accept-threshold", "0"])
    assert res.exit_code == 0, res.output
    return out / "o"


def test_accepted_samples_load_with_datasets_and_explain_themselves(permissive_run):
    import datasets  # the test extra installs it
    out = permissive_run
    for name in ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl"):
        rows = (out / name).read_text().splitlines()
        assert rows, f"{name}: no accepted sample even at θ = 0"
        ds = datasets.load_dataset("json", data_files=str(out / name), split="train")
        assert len(ds) == len(rows)
        for r in map(json.loads, rows):
            m = r["metadata"]
            if m["votes"]:            # accepted by judges: which ones, with what probability
                assert all(0.0 <= v["p_yes"] <= 1.0 for v in m["votes"])
            else:                     # built from the evidence: every clause names its call or record
                assert m["reason"].startswith("built from the evidence"), m["reason"]
                assert m["constraints"] and all(c["bound_to"] and c["step"] >= 0 for c in m["constraints"])


def test_rerun_resumes_from_the_journal_without_model_calls(demo_run, tmp_path):
    res, out = demo_run
    before = (out / "sft.jsonl").read_bytes()
    again = CliRunner().invoke(cli, ["run", str(out.parent / "in.jsonl"), "-o", str(out), "--quiet",
                                     "--jury", "fast", "--no-report"])
    assert again.exit_code == 0, again.output
    assert "resumed: 12 record(s)" in again.output
    assert (out / "sft.jsonl").read_bytes() == before


def test_an_off_topic_run_yields_a_hindsight_goal_bound_to_what_it_found(demo_run):
    """demo11 answered a different question (headphone specs instead of a return policy):
    a goal about what it did find is bound to its tool outputs, and never asks the original."""
    _, out = demo_run
    e = next(json.loads(l) for l in (out / "journal.jsonl").read_text().splitlines()[1:]
             if json.loads(l)["id"] == "demo11_headphones_offtopic")
    verified = [a for a in e["relabel"]["attempts"] if (a.get("verification") or {}).get("accepted")]
    assert verified, [a["goal"] for a in e["relabel"]["attempts"]]
    assert all("return" not in a["goal"].lower() for a in verified)
    assert all(c["bound_to"] for a in verified for c in a["verification"]["constraints"])


def test_accepted_samples_carry_constraints_with_tool_evidence(permissive_run):
    rows = [json.loads(l) for l in (permissive_run / "sft.jsonl").read_text().splitlines()]
    assert rows
    for r in rows:
        assert r["metadata"]["constraints"], r["metadata"]["trajectory_id"]
        for c in r["metadata"]["constraints"]:
            assert c["step"] >= 0 and c["evidence"], c


FIX = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _one_fireact_failure(tmp: Path) -> Path:
    """Run 3824 of the Llama-2 sample (reward false), alone in a file of the same shape."""
    runs = json.loads((ROOT / "tests" / "data" / "fireact" / "trajs_llama-2-7b_first3.json").read_text())
    path = tmp / "llama.json"
    path.write_text(json.dumps({"3824": runs["3824"]}))
    return path


def _agenther_file(tmp: Path) -> Path:
    """The first tau2 run written by `convert --to agenther` (the reference code's format)."""
    out = tmp / "agenther.jsonl"
    res = CliRunner().invoke(cli, ["convert", str(next((FIX / "tau2_bench").glob("*.json"))),
                                   "--to", "agenther", "-o", str(out)])
    assert res.exit_code == 0, res.output
    out.write_text(out.read_text().splitlines(keepends=True)[0])
    return out


@pytest.mark.parametrize("fmt, make_input, options", [
    ("tau2", lambda tmp: next((FIX / "tau2_bench").glob("*.json")), []),
    ("openhands", lambda tmp: FIX / "openhands_v1_conversation", ["--unlabeled", "failed"]),
    ("inspect", lambda tmp: next((FIX / "inspect_eval_json").glob("*.json")),
     ["--labels", "{tmp}/labels.json"]),     # its one sample passed; a labels file fails it
    ("swe-agent", lambda tmp: FIX / "swe_agent_swebench_verified" / "django__django-14787.traj",
     ["--labels", str(FIX / "swe_agent_swebench_verified" / "results.json")]),
    ("mini-swe-agent", lambda tmp: FIX / "mini_swe_agent" / "pylint-dev__astroid-1978.traj.json",
     ["--labels", str(FIX / "mini_swe_agent" / "deepseek__deepseek-chat.deepseek_chat_dev.json")]),
    ("fireact", lambda tmp: _one_fireact_failure(tmp), []),
    ("agenther", _agenther_file, []),
])
def test_one_run_per_input_format_through_run(fmt, make_input, options, tmp_path):
    """`run --limit 1` with the smallest judge on one file of each newer format: the format is
    detected, its one failed run goes through the stages, and every output file is
    well-formed JSON. The stage-1/2 rules keep it to ~30 s a file."""
    src, out = make_input(tmp_path), tmp_path / "o"
    (tmp_path / "labels.json").write_text(json.dumps({"browser-ZB2vu5GN-1": False}))
    options = [o.format(tmp=tmp_path) for o in options]
    res = CliRunner().invoke(cli, ["run", str(src), "-o", str(out), "--limit", "1", "--jury", "smollm2-135m",
                                   "--rule-stages", "--quiet", "--no-report", *options])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("1 read, 0 invalid"), res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["format"] for i in manifest["inputs"]] == [fmt]
    journal = [json.loads(l) for l in (out / "journal.jsonl").read_text().splitlines()[1:]]
    assert len(journal) == 1 and journal[0]["status"] in ("accepted", "rejected")
    rows = {name: [json.loads(l) for l in (out / name).read_text().splitlines()]
            for name in ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl", "rejected.jsonl")}
    assert len(rows["sft.jsonl"]) + len(rows["rejected.jsonl"]) == 1, res.output
    assert [r["id"] for r in rows["rejected.jsonl"]] in ([], [journal[0]["id"]])
