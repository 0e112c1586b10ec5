"""OUTDIR/report.html: what a run did, rebuilt from `journal.jsonl` and `manifest.json` alone.

`write_report(outdir)` streams the journal once (collect.py), computes jury agreement and goal
diversity (measures.py), draws the charts (charts.py) and writes one self-contained HTML page
(sections.py, page.py): the run summary from the manifest, then 1. the funnel, 2. the
distributions of w and of jury confidence, 3. the jurors, 4. why records were rejected,
5. goal diversity, 6. example relabels. No judge model is called; the only model loaded is the
sentence embedder, for goal diversity, and only when at least two goals were accepted.

An empty run, a run with nothing accepted, a missing manifest (an interrupted run) and
entries of older versions all give a complete page, with a note where a section has nothing
to show.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embeddings import Embedder
from ..errors import AgentherError
from ..journal import Journal
from ..jsonl import write_text_atomic
from . import sections
from .collect import Collector
from .page import page

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class ReportConfig:
    max_examples: int = 20          # rows of the example-relabels table: enough to judge by eye
    max_goal_pairs: int = 2000      # 4,000 texts to embed: ~42 s of MiniLM at SPEC's 256 texts / 2.7 s
    max_clusters: int = 8           # k = min(8, n // 2) for the appendix-E diversity analysis
    kmeans_n_init: int = 10         # fixed, because sklearn's default ("auto") changed between versions


def read_header(path: Path) -> dict[str, Any]:
    """The journal's first line (format, version, config, start time); {} for an empty file."""
    with open(path, encoding="utf-8") as f:
        line = f.readline()
    if not line.strip():
        return {}
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise AgentherError(f"{path}:1: not an agenther-local journal (bad header)") from None


def read_manifest(outdir: Path) -> tuple[dict[str, Any] | None, str]:
    """(manifest, note): the note says why there is none."""
    path = outdir / "manifest.json"
    if not path.exists():
        return None, ("manifest.json is missing (the run was interrupted or is still going): "
                      "numbers below come from the journal only.")
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except json.JSONDecodeError as e:
        return None, f"{path}: unreadable JSON ({e.msg} at line {e.lineno}); numbers below come from the journal only."


def build_report(outdir: Path, embedder: Embedder | None = None, cfg: ReportConfig = ReportConfig()) -> str:
    """The report page of OUTDIR as a string. `embedder` defaults to MiniLM (SentenceEmbedder)."""
    outdir = Path(outdir)
    path = outdir / "journal.jsonl"
    if not path.is_file():
        raise AgentherError(f"{outdir}: no journal.jsonl; write one with `agenther-local run INPUT -o {outdir}`")
    header = read_header(path)
    manifest, manifest_note = read_manifest(outdir)
    collector = Collector(cfg.max_examples, cfg.max_goal_pairs)
    line = 1
    try:
        for line, entry in enumerate(Journal(path).read(), start=2):
            collector.add(entry, line)
    except json.JSONDecodeError as e:
        raise AgentherError(f"{path}:{line + 1}: not JSON ({e.msg}); the journal is damaged") from None
    stats = collector.finish()
    jury = (manifest or {}).get("jury") or {}
    config = (manifest or {}).get("config") or header.get("config") or {}
    parts = [
        sections.summary(manifest, manifest_note, header, stats),
        sections.funnel(stats),
        sections.distributions(stats, config, jury),
        sections.jurors(stats, jury),
        sections.rejections(stats),
        sections.diversity(stats, embedder, cfg.max_clusters, cfg.kmeans_n_init),
        sections.examples(stats),
    ]
    subtitle = (f"{outdir.resolve()} · {stats.entries} records · built from journal.jsonl and manifest.json; "
                "no judge model was called")
    return page(subtitle, parts)


def write_report(outdir: Path, embedder: Embedder | None = None, cfg: ReportConfig = ReportConfig()) -> Path:
    """Write OUTDIR/report.html (atomically) and return its path."""
    out = Path(outdir) / REPORT_FILE
    write_text_atomic(out, build_report(outdir, embedder, cfg))
    return out
