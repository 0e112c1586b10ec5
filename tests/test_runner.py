"""The runner's contract, with a deterministic stand-in pipeline (no model): bad input is
quarantined with its location and nothing good is lost, --strict stops at the first bad
record, an interrupted run resumes to byte-identical outputs, memory-free streaming."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from agenther_local.config import Config
from agenther_local.errors import AgentherError
from agenther_local.jsonl import read_records
from agenther_local.runner import RunOptions, run
from agenther_local.trajectory import Trajectory


class EchoPipeline:
    """Accepts every run whose id does not end in 'x', with a goal made from its first step."""

    def __init__(self, interrupt_after: int | None = None):
        self.calls = []
        self.interrupt_after = interrupt_after
        self.timings = {}

    def process(self, traj: Trajectory) -> dict:
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append(traj.id)
        base = {"id": traj.id, "record": traj.to_dict(), "stage": "relabel", "weight": 0.7}
        if traj.id.endswith("x"):
            return {**base, "status": "rejected", "reason": "fake rejection"}
        return {**base, "status": "accepted", "goal": f"What did {traj.steps[0].action} return?",
                "confidence": 0.9, "reason": "fake acceptance"}


def rec(i, **over):
    d = {"id": f"r{i}", "goal": f"goal {i}", "success": False,
         "steps": [{"thought": "t", "action": f"tool{i}", "action_input": {"q": i}, "observation": f"result {i}"}],
         "final_answer": f"answer {i}"}
    d.update(over)
    return d


def write_jsonl(path: Path, rows) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows))
    return path


def do_run(inputs, out, pipeline=None, **kw):
    return run(RunOptions(inputs=list(inputs), outdir=out, source_format=kw.pop("source_format", "native"), quiet=True, **kw),
               Config(), pipeline or EchoPipeline(), {})


def lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_bad_records_are_quarantined_with_location_and_good_ones_kept(tmp_path):
    big = "x" * (10 * 1024 * 1024)
    f = write_jsonl(tmp_path / "in.jsonl", [
        rec(1),
        b'{"id": "broken", ',                                   # malformed JSON (line 2)
        {k: v for k, v in rec(3).items() if k != "goal"},      # missing field (line 3)
        rec(4, steps=[]),                                        # empty steps (line 4)
        b'{"id": "r5", "goal": "caf\xe9"}',                     # not UTF-8 (line 5)
        rec(6, steps=[{"action": "a", "action_input": {}, "observation": big}]),  # 10 MB observation
        rec(1),                                                  # duplicate id (line 7)
        rec(8, steps=[{"action": "a", "action_input": [], "observation": "o"}]),  # mistyped (line 8)
    ])
    s = do_run([f], tmp_path / "out", source_format="native")
    inv = lines(tmp_path / "out" / "invalid.jsonl")
    assert [i["where"] for i in inv] == [f"{f}:2", f"{f}:3", f"{f}:4", f"{f}:5", f"{f}:7", f"{f}:8"]
    assert inv[1]["reason"] == "goal: missing"
    assert inv[2]["reason"] == "steps: empty: a trajectory needs at least one step"
    assert inv[4]["reason"] == f"id: duplicate id 'r1' (first at {f}:1)"
    assert inv[5]["reason"] == "steps[0].action_input: expected an object, got a list"
    assert s.invalid == 6 and s.counts["accepted"] == 2
    assert [r["metadata"]["trajectory_id"] for r in lines(tmp_path / "out" / "sft.jsonl")] == ["r1", "r6"]


def test_empty_file_and_directory_are_reported_and_other_files_still_run(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    d = tmp_path / "adir"
    d.mkdir()
    good = write_jsonl(tmp_path / "good.jsonl", [rec(1)])
    s = do_run([empty, d, good], tmp_path / "out", source_format="auto")
    inv = lines(tmp_path / "out" / "invalid.jsonl")
    assert [i["where"] for i in inv] == [str(empty), str(d)]
    assert "empty file" in inv[0]["reason"]
    assert "directory" in inv[1]["reason"]
    assert s.counts["accepted"] == 1


def test_strict_stops_at_the_first_bad_record_with_its_line(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1), b"{oops", rec(3)])
    with pytest.raises(AgentherError, match=rf"^{f}:2: record: malformed JSON"):
        do_run([f], tmp_path / "out", strict=True)


def test_interrupted_run_resumes_to_identical_outputs(tmp_path):
    rows = [rec(i) for i in range(10)] + [rec(10, id="r10x")]
    f = write_jsonl(tmp_path / "in.jsonl", rows)
    do_run([f], tmp_path / "full")
    first = EchoPipeline(interrupt_after=4)
    s = do_run([f], tmp_path / "part", pipeline=first)
    assert s.interrupted and first.calls == ["r0", "r1", "r2", "r3"]
    second = EchoPipeline()
    s2 = do_run([f], tmp_path / "part", pipeline=second)
    assert second.calls == [f"r{i}" for i in range(4, 10)] + ["r10x"]   # nothing redone
    assert s2.resumed == 4
    for name in ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl", "rejected.jsonl", "invalid.jsonl"):
        assert (tmp_path / "part" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    ids = [json.loads(l)["id"] for l in (tmp_path / "part" / "journal.jsonl").read_text().splitlines()[1:]]
    assert len(ids) == len(set(ids)) == 11


def test_torn_last_journal_line_is_redone_not_lost(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1), rec(2)])
    do_run([f], tmp_path / "out")
    j = tmp_path / "out" / "journal.jsonl"
    data = j.read_text()
    j.write_text(data[: len(data) - 20])      # a kill in the middle of the last write
    p = EchoPipeline()
    do_run([f], tmp_path / "out", pipeline=p)
    assert p.calls == ["r2"]
    assert len(lines(tmp_path / "out" / "sft.jsonl")) == 2


def test_no_resume_refuses_an_outdir_with_a_journal(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1)])
    do_run([f], tmp_path / "out")
    with pytest.raises(AgentherError, match="holds the journal of an earlier run"):
        do_run([f], tmp_path / "out", resume=False)


def test_limit_counts_records_read(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(i) for i in range(5)])
    p = EchoPipeline()
    do_run([f], tmp_path / "out", pipeline=p, limit=2)
    assert p.calls == ["r0", "r1"]


def test_unlabeled_records_are_skipped_unless_asked(tmp_path):
    row = rec(1)
    del row["success"]
    f = write_jsonl(tmp_path / "in.jsonl", [row])
    p = EchoPipeline()
    s = do_run([f], tmp_path / "a", pipeline=p)
    assert p.calls == [] and s.counts == {"skipped_unlabeled": 1}
    s = do_run([f], tmp_path / "b", pipeline=p, unlabeled="failed")
    assert p.calls == ["r1"] and s.counts == {"accepted": 1}


# -- property tests of the reader ------------------------------------------------------------

good_records = st.builds(lambda i, obs: rec(i, steps=[{"action": "a", "action_input": {}, "observation": obs}]),
                         st.integers(0, 10_000), st.text(max_size=50))
junk = st.one_of(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
                 st.text(max_size=30).map(lambda t: t.replace("\n", " ").replace("\r", " ").encode()),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(lambda d: json.dumps(d).encode()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(good_records.map(lambda r: ("good", r)), junk.map(lambda b: ("junk", b))), max_size=12))
def test_reader_never_crashes_and_never_loses_a_good_record(tmp_path, items):
    path = tmp_path / "prop.jsonl"
    rows, expected = [], []

    for kind, v in items:
        if kind == "good":
            v = dict(v, id=f"g{len(rows)}")
            expected.append(v["id"])
            rows.append(json.dumps(v).encode())
        else:
            rows.append(v)
    path.write_bytes(b"\n".join(rows) + b"\n")
    got = [t.id for _, t in read_records([path]) if isinstance(t, Trajectory)]
    # junk lines may themselves be valid records only if they parse into one; ours cannot
    assert [g for g in got if g.startswith("g")] == expected


# -- the output folder as the training tools see it ------------------------------------------------

class SumWeightPipeline(EchoPipeline):
    """EchoPipeline whose w is a float sum that does not print as its decimal (0.6000000000000001)."""

    def process(self, traj: Trajectory) -> dict:
        entry = super().process(traj)
        return {**entry, "weight": 0.3 + 0.1 + 0.1 + 0.1}


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_files_get_the_mode_a_plain_open_would_give(tmp_path, umask):
    import os
    import stat

    f = write_jsonl(tmp_path / "in.jsonl", [rec(1), rec(2, id="r2x")])
    old = os.umask(umask)
    try:
        do_run([f], tmp_path / "out")
        from agenther_local.report import write_report
        write_report(tmp_path / "out")
    finally:
        os.umask(old)
    names = ["sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl", "rejected.jsonl", "invalid.jsonl",
             "journal.jsonl", "dataset_info.json", "manifest.json", "README.md", "report.html"]
    for name in names:
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o666 & ~umask, name
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp file left


def test_weights_are_rounded_in_rows_and_metadata(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1)])
    do_run([f], tmp_path / "out", pipeline=SumWeightPipeline())
    for name in ("sft.jsonl", "dpo.jsonl", "dpo_ms_swift.jsonl", "sharegpt.jsonl"):
        text = (tmp_path / "out" / name).read_text()
        assert "0.6000000000000001" not in text, name
        (row,) = lines(tmp_path / "out" / name)
        assert row["weight"] == 0.6 and row["metadata"]["quality_weight"] == 0.6, name


def test_load_dataset_on_the_folder_loads_each_file_as_a_named_config(tmp_path):
    """Without the card, datasets globs journal.jsonl, rejected.jsonl ... into one table."""
    import datasets

    datasets.disable_progress_bars()
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1), rec(2), rec(3, id="r3x")])
    do_run([f], tmp_path / "out")
    out = tmp_path / "out"
    cache = str(tmp_path / "hf-cache")
    expected = {"sft": ("sft.jsonl", {"messages", "weight", "metadata"}),
                "dpo": ("dpo.jsonl", {"prompt_chosen", "prompt_rejected", "completion", "weight", "metadata"}),
                "dpo_ms_swift": ("dpo_ms_swift.jsonl", {"messages", "rejected_messages", "weight", "metadata"}),
                "sharegpt": ("sharegpt.jsonl", {"conversations", "system", "tools", "weight", "metadata"})}
    assert sorted(datasets.get_dataset_config_names(str(out))) == sorted(expected)
    for config, (file_name, columns) in expected.items():
        ds = datasets.load_dataset(str(out), config, split="train", cache_dir=cache)
        assert ds.num_rows == len(lines(out / file_name)) == 2, config
        assert set(ds.column_names) == columns, config
        assert [r["metadata"]["trajectory_id"] for r in ds] == ["r1", "r2"], config
    default = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    assert set(default.column_names) == expected["sft"][1]       # sft is the default config
    card = (out / "README.md").read_text()
    assert "| `sft` | `sft.jsonl` | 2 |" in card


def test_card_gives_no_config_to_an_empty_file(tmp_path):
    f = write_jsonl(tmp_path / "in.jsonl", [rec(1, id="r1x")])     # rejected: no training rows
    do_run([f], tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    assert card.startswith("---\nconfigs: []\n---\n")
    assert "| (empty: no config) | `sft.jsonl` | 0 |" in card


def test_the_rejection_reason_of_tied_gates_does_not_depend_on_the_process(tmp_path):
    """Two gates failing equally often: the reason is the first in attempt order, in every
    process. It used to be picked from a set, whose order Python salts per process
    (PYTHONHASHSEED), so a resumed run could write another reason than the full run (issue 18)."""
    import subprocess
    import sys

    entry = {"status": "rejected", "relabel": {"reason": "no attempt passed", "attempts": [
        {"status": "gate:grounding"}, {"status": "verify:constraint"}, {"status": "unparsable"}]}}
    code = ("import json, sys; from agenther_local.runner import rejection_key; "
            f"print(rejection_key(json.loads({json.dumps(json.dumps(entry))})))")
    seen = set()
    for seed in range(8):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}, cwd=Path(__file__).parents[1])
        seen.add(out.stdout.strip())
    assert seen == {"relabel:gate:grounding"}


class LoopingWriterPipeline(EchoPipeline):
    """Every draft of r1 loops or is cut; r2 is accepted after one degenerate draft."""

    def process(self, traj: Trajectory) -> dict:
        entry = super().process(traj)
        if traj.id == "r1":
            attempts = [{"k": 1, "status": "cut"}, {"k": 1, "status": "degenerate"}, {"k": 2, "status": "degenerate"}]
            return {**entry, "status": "rejected", "goal": None, "relabel": {"reason": "no attempt passed",
                                                                             "attempts": attempts}}
        return entry


def test_cut_and_degenerate_drafts_are_counted_in_the_summary_and_name_the_rejection(tmp_path, capsys):
    from agenther_local.cli._common import print_summary

    inp = write_jsonl(tmp_path / "in.jsonl", [rec(1), rec(2)])
    s = do_run([inp], tmp_path / "o", LoopingWriterPipeline())
    assert s.lost_drafts == {"cut": 1, "degenerate": 2}
    assert s.rejected_by == {"relabel:writer_degenerate": 1}
    assert [r["rejected_by"] for r in lines(tmp_path / "o" / "rejected.jsonl")] == ["relabel:writer_degenerate"]
    print_summary(s, tmp_path / "o")
    assert "  writer drafts redrawn: 1 cut, 2 degenerate (journal: attempts with that status)" in capsys.readouterr().out
