"""The report's sections, in page order: each function turns collected numbers into a Section.

Every function reads only `RunStats` (collect.py), the manifest and the journal header; the
only model any of them runs is the sentence embedder of the goal-diversity section.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..embeddings import Embedder
from ..errors import ModelError
from . import charts
from .collect import BINS, FUNNEL, RunStats
from .measures import fleiss_kappa, goal_diversity, pairwise_agreement
from .page import SECTIONS, Raw, Section, clip, esc, img, note, num, pct, table

EARLY_STOPPING_RULES = ("majority", "strongest", "all")


def _get(d: Any, *path: str, default: Any = None) -> Any:
    """
    >>> _get({"a": {"b": 1}}, "a", "b"), _get({"a": None}, "a", "b", default="-")
    (1, '-')
    """
    for p in path:
        if not isinstance(d, dict) or d.get(p) is None:
            return default
        d = d[p]
    return d


def _sha(x: Any) -> str:
    return f"{x[:12]}…" if isinstance(x, str) and len(x) > 12 else str(x or "—")


# ------------------------------------------------------------------ run summary (the manifest)

def _block(title: str, *parts: Any, wide: bool = False) -> Raw:
    body = "".join(p if isinstance(p, Raw) else f"<p>{esc(p)}</p>" for p in parts)
    return Raw(f'<div{" class=wide" if wide else ""}><h3>{esc(title)}</h3>{body}</div>')


def summary(manifest: dict[str, Any] | None, manifest_note: str, header: dict[str, Any],
            stats: RunStats) -> Section:
    s = Section(SECTIONS[0])
    if manifest_note:
        s.add(note(manifest_note))
    m = manifest or {}
    summ = m.get("summary") or {}
    seconds = summ.get("seconds")
    blocks = [_block("Run", table(("", ""), [
        ("journal started", header.get("started", "—")), ("agenther-local", m.get("agenther_local", "—")),
        ("python", m.get("python", "—")), ("platform", m.get("platform", "—")),
        ("seed", m.get("seed", _get(header, "config", "runtime", "seed", default="—"))),
        ("embedder", m.get("embedder", "—")), ("journal entries", stats.entries),
        ("read", summ.get("read", "—")), ("invalid", summ.get("invalid", "—")),
        ("resumed from the journal", summ.get("resumed", "—")), ("interrupted", summ.get("interrupted", "—")),
        ("wall time", f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "—")]))]
    counts = summ.get("written") or {}
    timings = {k: v for k, v in (m.get("timings") or {}).items() if isinstance(v, (int, float))}
    if counts or timings:
        blocks.append(_block("Files written, time per stage",
                             table(("file", "rows"), sorted(counts.items()), numeric=(1,)),
                             table(("stage", "seconds"), [(k, f"{v:.2f}") for k, v in timings.items()], numeric=(1,))))
    if m.get("inputs"):
        blocks.append(_block("Inputs", table(("path", "format", "sha256"), [
            (i.get("path", ""), i.get("format", ""), _sha(i.get("sha256"))) for i in m["inputs"]])))
    if m.get("models"):
        blocks.append(_block("Models", table(("model", "file", "chat format", "sha256"), [
            (name, d.get("file", ""), d.get("chat_format", ""), _sha(d.get("sha256")))
            for name, d in sorted(m["models"].items())])))
    jury = m.get("jury") or {}
    if jury:
        rows = [(j.get("juror", ""), "juror", num(j.get("threshold")), j.get("threshold_source", ""))
                for j in jury.get("jurors") or []]
        if jury.get("self_check"):
            sc = jury["self_check"]
            rows.insert(0, (sc.get("juror", ""), "writer self-check (c)", num(sc.get("threshold")),
                            sc.get("threshold_source", "")))
        blocks.append(_block("Jury", f"preset {jury.get('preset', '—')}, rule {jury.get('rule', '—')}, "
                                     f"writer {jury.get('writer', '—')}",
                             table(("juror", "role", "threshold θ", "threshold source"), rows), wide=True))
    cfg = m.get("config") or header.get("config") or {}
    settings = [(f"{group}.{k}", num(v) if isinstance(v, float) else v)
                for group in ("relabel", "detect", "gates") for k, v in (cfg.get(group) or {}).items()
                if k != "banned_phrases"]
    if settings:
        blocks.append(_block("Thresholds and settings (config.py defaults or the --config file)",
                             table(("setting", "value"), settings)))
    if m.get("templates"):
        blocks.append(_block("Prompt templates", table(("template", "sha256"), [
            (n, _sha(h)) for n, h in sorted(m["templates"].items())])))
    s.add(Raw('<div class="grid">' + "".join(blocks) + "</div>"))
    return s


# ------------------------------------------------------------------ 1. funnel

def funnel(stats: RunStats) -> Section:
    s = Section(SECTIONS[1])
    s.add("input = every journaled record; failures = records judged failed (accepted, rejected or error); "
          "recoverable = passed failure detection (r = 1, w ≥ δ); passed gates = at least one relabel "
          "attempt passed every gate; accepted = a hindsight goal was accepted.")
    s.add(Raw('<div class="charts">' + img(charts.funnel_chart(FUNNEL, stats.funnel, stats.funnel_by_type),
                                            "funnel chart") + "</div>"))
    n = stats.funnel[0]
    rows = [(stage, stats.funnel[i], pct(stats.funnel[i], n), pct(stats.funnel[i], stats.funnel[i - 1]) if i else "—")
            for i, stage in enumerate(FUNNEL)]
    s.add(table(("stage", "records", "of input", "of previous stage"), rows, numeric=(1, 2, 3)))
    if stats.funnel_by_type:
        rows = [(t, *v, pct(v[-1], v[0])) for t, v in sorted(stats.funnel_by_type.items(), key=lambda kv: -kv[1][0])]
        s.add(Raw("<h3>Per failure type</h3>"),
              table(("failure type", *FUNNEL[1:], "accepted / failures"), rows, numeric=(1, 2, 3, 4, 5)))
    s.add(Raw("<h3>Statuses</h3>"), table(("status", "records"), stats.statuses.most_common(), numeric=(1,)))
    if not stats.entries:
        s.add(note("The journal holds no record: nothing was processed in this run."))
    return s


# ------------------------------------------------------------------ 2. distributions

def distributions(stats: RunStats, config: dict[str, Any], jury: dict[str, Any]) -> Section:
    s = Section(SECTIONS[2])
    delta = _get(config, "detect", "discard_below")
    marks = [(float(delta), f"δ = {delta}")] if isinstance(delta, (int, float)) else []
    w = charts.histogram_chart(BINS, stats.weight_hist, (charts.GREEN, charts.GREY),
                               "quality weight w of failed records", "w (high = mild failure, kept)", "records",
                               True, marks)
    thetas = sorted({float(j["threshold"]) for j in jury.get("jurors") or [] if isinstance(j.get("threshold"), (int, float))})
    c = charts.histogram_chart(BINS, stats.confidence_hist, (charts.GREEN, charts.ORIGINAL),
                               "jury confidence", "confidence / mean P(yes)", "records / verdicts", False,
                               [(t, f"θ = {t:g}") for t in thetas[:3]])
    s.add(Raw(f'<div class="charts">{img(w, "quality weight histogram")}{img(c, "confidence histogram")}</div>'))
    mean_w = stats.weight_sum / stats.weight_n if stats.weight_n else None
    s.add(f"Quality weight w: {stats.weight_n} failed records, mean {num(mean_w)}. Confidence: the accepted "
          "records' confidence ((c + jury mean P(yes)) / 2, or c alone for a single judge), and the mean "
          "P(yes) of every jury verdict, accepted or not (the fallback's included).")
    return s


# ------------------------------------------------------------------ 3. jurors

def juror_rows(stats: RunStats, jury: dict[str, Any]) -> list[dict[str, Any]]:
    listed = {j.get("juror"): j for j in jury.get("jurors") or []}
    order = [j for j in listed if j in stats.jurors] + sorted(j for j in stats.jurors if j not in listed)
    rows = []
    for j in order:
        t = stats.jurors[j]
        theta = listed.get(j, {}).get("threshold")
        if theta is None and t.thresholds:
            theta = t.thresholds.most_common(1)[0][0]
        rows.append({"juror": j, "votes": t.votes, "yes": t.yes, "yes_rate": t.yes_rate, "mean_p": t.mean_p,
                     "threshold": theta, "source": listed.get(j, {}).get("threshold_source") or t.source})
    return rows


def jurors(stats: RunStats, jury: dict[str, Any]) -> Section:
    s = Section(SECTIONS[3])
    rows = juror_rows(stats, jury)
    s.add(Raw('<div class="charts">' + img(charts.juror_chart(rows), "juror chart") + "</div>"))
    if rows:
        s.add(table(("juror", "votes", "yes", "share of yes", "mean P(yes)", "threshold θ", "threshold source"),
                    [(r["juror"], r["votes"], r["yes"], num(r["yes_rate"]), num(r["mean_p"]), num(r["threshold"]),
                      r["source"]) for r in rows], numeric=(1, 2, 3, 4, 5)))
    sc = stats.self_check
    if sc.votes:
        s.add(f"Writer self-check c (not a jury vote): {sc.votes} goals scored, {sc.yes} at or above θ, "
              f"mean P(yes) {num(sc.mean_p)}.")
    if not rows:
        s.add(note("No jury verdict in this journal (single-judge mode, or no goal reached the jury)."))
        return s
    patterns = dict(stats.vote_patterns)
    pairs = pairwise_agreement(patterns)
    if pairs:
        s.add(Raw("<h3>Pairwise agreement</h3>"), table(
            ("juror A", "juror B", "verdicts both voted", "same vote"),
            [(a, b, n, num(agree)) for (a, b), (agree, n) in pairs.items()], numeric=(2, 3)))
    everyone = [r["juror"] for r in rows]
    full = [(p, n) for p, n in patterns.items() if len(p) == len(everyone) and {j for j, _ in p} == set(everyone)]
    counts = np.array([[sum(v for _, v in p), len(p) - sum(v for _, v in p)] for p, n in full for _ in range(n)])
    n_full = sum(n for _, n in full)
    if len(everyone) < 2:
        s.add("Fleiss' κ needs at least two jurors.")
    else:
        kappa = fleiss_kappa(counts) if n_full else float("nan")
        why = "" if not np.isnan(kappa) else (" (undefined: no such verdict)" if not n_full
                                              else " (undefined: every vote was the same)")
        s.add(f"Fleiss' κ = {num(kappa)} over {n_full} verdicts where all {len(everyone)} jurors voted{why}.")
    if jury.get("rule") in EARLY_STOPPING_RULES:
        s.add(note(f"The '{jury['rule']}' rule stops asking once the verdict is decided, so all jurors vote "
                   "mostly when the first ones disagreed: κ and agreement here are biased low. "
                   "Run with --rule mean to ask every juror every time."))
    return s


# ------------------------------------------------------------------ 4. rejections

def rejections(stats: RunStats) -> Section:
    s = Section(SECTIONS[4])
    counts = stats.rejections.most_common()
    s.add("Each rejected or error record is counted once, under the gate or stage that decided it "
          "(runner.rejection_key: detect:*, relabel:gate:*, relabel:jury, relabel:low_confidence, relabel:no_plan, ...).")
    s.add(Raw('<div class="charts">' + img(charts.rejection_chart(counts), "rejection chart") + "</div>"))
    total = sum(stats.rejections.values())
    rows = []
    for key, n in counts:
        ex = "".join(f"<li><span class=mono>{esc(e['id'])}</span> {esc(e['where'])}: {esc(clip(e['reason']))}</li>"
                     for e in stats.rejection_examples.get(key, []))
        rows.append((key, n, pct(n, total), Raw(f"<ul class=ev>{ex}</ul>")))
    if rows:
        s.add(table(("rejected by", "records", "share", "examples"), rows, numeric=(1, 2), cls="examples"))
    else:
        s.add(note("No record was rejected."))
    if stats.gates:
        s.add(Raw("<h3>Gate failures over all relabel attempts</h3>"), table(
            ("gate", "attempts it ended", "records", "example details"),
            [(g, t.attempts, t.records, Raw("<ul class=ev>" + "".join(f"<li>{esc(d)}</li>" for d in t.examples) + "</ul>"))
             for g, t in sorted(stats.gates.items(), key=lambda kv: -kv[1].attempts)], numeric=(1, 2), cls="examples"))
    if stats.specifics:
        s.add(Raw("<h3>Constraints and specifics behind gate failures</h3>"),
              "well_formed: an unmet constraint of the original goal carried over; grounding: a specific "
              "found in no tool output.",
              table(("gate", "constraint / specific", "failed attempts"),
                    [(g, sp, n) for (g, sp), n in stats.specifics.most_common(15)], numeric=(2,)))
    return s


# ------------------------------------------------------------------ 5. goal diversity

def diversity(stats: RunStats, embedder: Embedder | None, max_k: int, n_init: int) -> Section:
    s = Section(SECTIONS[5])
    s.add("As in AgentHER's appendix E: the original goals of the accepted records and their hindsight "
          f"goals are embedded together, clustered with k-means (k = min({max_k}, n // 2), n_init = {n_init}, "
          "random_state = 0), and each side is described by the clusters it covers and the normalised "
          "entropy of its cluster distribution (1 = spread evenly over k clusters).")
    pairs = stats.goal_pairs
    if len(pairs) < 2:
        s.add(note(f"Not enough accepted goals for a diversity analysis: {stats.accepted_goals} accepted "
                   "(at least 2 are needed)."))
        return s
    if len(pairs) < stats.accepted_goals:
        s.add(f"A sample of {len(pairs)} of the {stats.accepted_goals} accepted pairs (reservoir, seed 0).")
    try:
        if embedder is None:
            from ..embeddings import SentenceEmbedder
            embedder = SentenceEmbedder()
        vecs = embedder.embed([o for o, _ in pairs] + [h for _, h in pairs])
    except ModelError as e:
        s.add(note(f"Goal diversity not computed: {e}"))
        return s
    d = goal_diversity(vecs[:len(pairs)], vecs[len(pairs):], max_k, n_init)
    s.add(table(("goals", "n", f"clusters covered (of k = {d.k})", "normalised entropy"), [
        ("original", d.n_original, d.covered_original, num(d.entropy_original)),
        ("hindsight", d.n_hindsight, d.covered_hindsight, num(d.entropy_hindsight))], numeric=(1, 2, 3)))
    s.add(Raw('<div class="charts">' + img(charts.diversity_chart(d.xy, d.n_original, d.labels, d.explained,
                                                                  getattr(embedder, "id", "embedder")),
                                            "goal diversity PCA") + "</div>"))
    goals = [o for o, _ in pairs] + [h for _, h in pairs]
    rows = []
    for k in range(d.k):
        members = np.flatnonzero(d.labels == k)
        lo = [i for i in members if i < d.n_original]
        hi = [i for i in members if i >= d.n_original]
        rows.append((f"C{k}", len(lo), len(hi), goals[lo[0]] if lo else "—", goals[hi[0]] if hi else "—"))
    s.add(table(("cluster", "original", "hindsight", "an original goal", "a hindsight goal"), rows,
                numeric=(1, 2), cls="examples"))
    return s


# ------------------------------------------------------------------ 6. examples

def _votes_html(votes: list[dict[str, Any]]) -> Raw:
    items = []
    for v in votes:
        yes = bool(v.get("vote"))
        op = "≥" if yes else "<"
        items.append(f"<li>{esc(v.get('juror', '?'))}: <span class=nw>{esc(num(v.get('p_yes')))} {op} "
                     f"{esc(num(v.get('threshold')))} <span class={'yes' if yes else 'no'}>"
                     f"{'yes' if yes else 'no'}</span></span></li>")
    return Raw(f"<ul class=votes>{''.join(items)}</ul>" if items else "—")


def _evidence_html(evidence: list[dict[str, Any]]) -> Raw:
    items = [f"<li>step {esc(e['step'])} <span class=mono>{esc(e['action'])}</span>: “{esc(e['before'])}"
             f"<mark>{esc(e['match'])}</mark>{esc(e['after'])}”</li>" for e in evidence]
    return Raw(f"<ul class=ev>{''.join(items)}</ul>" if items else "<span class=muted>no specific to ground</span>")


def _constraints_html(constraints: list[dict[str, Any]]) -> Raw:
    """Each constraint of the goal: its text, how it was checked, the tool step and facts it rests on."""
    items = []
    for c in constraints:
        ev = (c.get("evidence") or [{}])[0]
        facts = ", ".join(f"[{f}]" for f in c.get("facts") or [])
        bound = c.get("bound_to") or {}
        bound = bound if isinstance(bound, dict) else {}
        where = bound.get("call") or bound.get("record") or ""
        items.append(f"<li><b>{esc(c.get('text', ''))}</b> <span class=muted>{esc(c.get('type') or c.get('kind', ''))} · "
                     f"{esc(c.get('method', ''))}{' · bound to ' + esc(where) + ' (step ' + esc(bound.get('step')) + ')' if where else ''}"
                     f"{' · facts ' + esc(facts) if facts else ''}</span>"
                     + (f"<br>step {esc(ev.get('step'))}: “{esc(str(ev.get('text', ''))[:160])}”" if ev else "")
                     + f"<br><span class=muted>{esc(c.get('detail', ''))}</span></li>")
    return Raw(f"<ul class=ev>{''.join(items)}</ul>")


def _goals_html(e) -> Any:
    """The hindsight goal, and the record's other goals (`--goals-per-run`), each its own sample."""
    if not e.more_goals:
        return e.hindsight_goal
    more = "".join(f"<li>{esc(g)}</li>" for g in e.more_goals)
    return Raw(f"{esc(e.hindsight_goal)}<br><span class=muted>+ {len(e.more_goals)} more goal(s) of this run, "
               f"each its own sample:</span><ul class=ev>{more}</ul>")


def examples(stats: RunStats) -> Section:
    s = Section(SECTIONS[6])
    accepted = stats.statuses.get("accepted", 0)
    if not stats.examples:
        s.add(note("No relabel was accepted in this run."))
        return s
    if accepted > len(stats.examples):
        s.add(f"The first {len(stats.examples)} of {accepted} accepted relabels, in journal order.")
    rows = [(Raw(f"<span class=mono>{esc(e.id)}</span><br><span class=muted>{esc(e.where)}<br>"
                 f"{esc(e.failure_type)}{' · fallback' if e.via_fallback else ''}</span>"),
             e.original_goal, _goals_html(e), _votes_html(e.votes), num(e.weight), num(e.confidence),
             _constraints_html(e.constraints) if e.constraints else _evidence_html(e.evidence))
            for e in stats.examples]
    s.add(table(("record", "original goal", "hindsight goal", "votes: P(yes) vs θ", "w", "confidence",
                 "constraints and their evidence (tool step, cited facts)"), rows, numeric=(4, 5), cls="examples"))
    return s
