"""The loop: read, run the stages, journal, write, resume, count.

- Every input record is read through an adapter (`--from`), located as "file:line".
- A bad record (malformed JSON, missing field, duplicate id, ...) goes to
  `OUTDIR/invalid.jsonl` with its location and reason; `--strict` stops at the first one.
- Each decided record is appended to `OUTDIR/journal.jsonl` and fsynced before the next.
  Re-running into the same OUTDIR (or `--resume`) skips what the journal holds.
- Outputs are rebuilt from the journal and written atomically (temp file + rename), in input
  order, so an interrupted-then-resumed run writes the same bytes as an uninterrupted one.
The runner never knows a format's fields: `formats.package` returns rows per file name.
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import __version__
from .config import Config
from .errors import AgentherError, InputFileError, RecordError
from .formats import FORMATS, dataset_card, dataset_info, package, to_success_sft
from .formats._common import check_weight
from .journal import Journal
from .jsonl import write_json_atomic, write_text_atomic
from .trajectory import Trajectory


@dataclass
class RunOptions:
    inputs: list[Path]
    outdir: Path
    source_format: str = "auto"
    formats: tuple[str, ...] = ("sft", "dpo", "sharegpt")
    limit: int | None = None
    strict: bool = False
    resume: bool = True
    branches: bool = False
    unlabeled: str = "skip"          # skip | failed: what to do with records that carry no label
    quiet: bool = False
    labels: Path | None = None       # a separate file of success labels (adapters/labels.py)
    keep_trajectory: bool = False    # True: samples keep the whole run (no shaping, stages/shape.py)
    prompts_dir: Path | None = None  # templates overriding prompts/ (answer.j2 shapes samples)


@dataclass
class Summary:
    read: int = 0
    invalid: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    per_type: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected_by: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cache: dict[str, int] = field(default_factory=dict)
    detected: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    lost_drafts: dict[str, int] = field(default_factory=dict)   # writer drafts cut / degenerate (redrawn)
    # "section.key" of each setting the resumed journal's run had otherwise (its decisions stand)
    resumed_with_other_config: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class StrictStop(AgentherError):
    """--strict met a bad record."""


def iter_inputs(opts: RunOptions, summary: Summary) -> Iterator[tuple[str, Trajectory | RecordError]]:
    """Every record of every input file; a file that cannot be read at all (missing, a
    directory, empty, unknown format) becomes one RecordError located at the file, so the
    other files are still processed."""
    from .adapters import detect_format, read
    from .adapters.labels import load_labels

    labels = load_labels(opts.labels) if opts.labels else None
    for path in opts.inputs:
        path = Path(path)
        try:
            fmt = opts.source_format
            if fmt == "auto":
                fmt = detect_format(path)
                summary.detected[str(path)] = fmt
            yield from read(path, fmt, branches=opts.branches, labels=labels)
        except InputFileError as e:
            msg = str(e)
            prefix = f"{path}: "
            yield str(path), RecordError("file", msg[len(prefix):] if msg.startswith(prefix) else msg, str(path))


def config_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """"section.key" of every setting that differs between two `Config.to_dict()`s (a setting
    one of them lacks, from an older or newer version, counts).

    >>> config_changes({"relabel": {"a": 1, "b": [1]}}, {"relabel": {"a": 2, "b": (1,), "c": 0}})
    ['relabel.a', 'relabel.c']
    """
    norm = json.loads(json.dumps(before)), json.loads(json.dumps(now))
    out = []
    for section in sorted(set(norm[0]) | set(norm[1])):
        a, b = norm[0].get(section) or {}, norm[1].get(section) or {}
        out += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k, ...) != b.get(k, ...)]
    return out


def rejection_key(entry: dict[str, Any]) -> str:
    """Which gate or stage rejected a record, for the summary and the report."""
    if entry["status"] != "rejected":
        return entry["status"]
    rl = entry.get("relabel")
    if not rl:
        f = entry.get("failure") or {}
        if f and not f.get("recoverable", True):
            return "detect:not_recoverable"
        if f.get("discarded"):
            return "detect:discarded_w"
        return entry.get("stage", "?")
    statuses = [a["status"] for a in rl["attempts"]]
    if not statuses:
        return "relabel:no_plan"      # no plan, and no model asked to write a goal
    if rl.get("via_fallback") or str(rl.get("reason", "")).startswith("fallback refused"):
        return "relabel:fallback_refused"
    if "vetoed" in statuses:
        return "relabel:jury"
    gates = [s for s in statuses if s.startswith(("gate:", "verify:"))]
    if gates:
        # subtle: the most frequent, ties to the first in attempt order. `max(set(gates), ...)`
        # broke ties by string-hash order, which Python salts per process: a resumed run could
        # name another gate than the uninterrupted one for the same attempts (issue 18).
        return "relabel:" + max(gates, key=gates.count)
    if statuses and all(s in ("unparsable", "invalid", "cut", "degenerate") for s in statuses):
        return "relabel:writer_" + statuses[-1]
    return "relabel:low_confidence"


def accepted_attempts(entry: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The attempt behind each accepted goal of a record, in order (one per sample): every
    attempt with status "accepted" (several with `goals_per_run` > 1), or the fallback's.
    [None] for an accepted entry that journaled no attempt."""
    rl = entry.get("relabel") or {}
    hits = [a for a in rl.get("attempts", []) if a.get("status") == "accepted"]
    if not hits and rl.get("accepted"):      # accepted through the fallback
        hits = [next((a for a in rl.get("attempts", []) if a.get("goal") == rl.get("goal")
                      and a.get("status") == "low_confidence"), None)]
    return hits or [None]


def _meta(entry: dict[str, Any], acc: dict[str, Any] | None, index: int = 0) -> dict[str, Any]:
    """The per-sample explanation carried in every output row (types fixed for Arrow); `acc` is
    the attempt whose goal the sample teaches, `index` its place among the record's goals."""
    rl = entry.get("relabel") or {}
    verdict = (acc or {}).get("verdict") or rl.get("fallback_verdict") or {}
    ver = (acc or {}).get("verification") or {}
    # each clause: its type, the rule that decided it, the ONE call or record it is bound to
    # (step, what, span), and each value's match; types fixed so Arrow reads every row alike
    constraints = [{"text": str(c["text"]), "kind": str(c["kind"]), "type": str(c.get("type") or c["kind"]),
                    "method": str(c["method"]),
                    "step": int((c.get("bound_to") or {}).get("step", c["evidence"][0]["step"] if c["evidence"] else -1)),
                    "bound_to": str((c.get("bound_to") or {}).get("call") or (c.get("bound_to") or {}).get("record") or ""),
                    "span": [int(x) for x in (c.get("bound_to") or {}).get("span", [])],
                    "values": [{"value": str(v["value"]), "found": bool(v["found"]), "step": int(v.get("step", -1)),
                                "path": str(v.get("path", ""))} for v in c.get("values", [])],
                    "evidence": str(c["evidence"][0]["text"]) if c["evidence"] else "", "detail": str(c["detail"]),
                    "facts": [int(f) for f in c.get("facts", [])]}
                   for c in ver.get("constraints", [])]
    failure = entry.get("failure") or {}
    return {
        "trajectory_id": entry["id"],
        "goal_index": index,
        "original_goal": entry["record"]["goal"],
        "failure_type": str(failure.get("failure_type") or ""),
        "quality_weight": check_weight(float(entry.get("weight", 1.0))),
        "confidence": float(entry.get("confidence") or 0.0),
        "reason": str(entry.get("reason", "")),
        # the writer's self-check first (c), then the jury's votes
        "votes": [{"juror": v["juror"], "p_yes": float(v["p_yes"]), "threshold": float(v["threshold"]),
                   "vote": bool(v["vote"])} for v in ([(acc or {}).get("self_vote")] if (acc or {}).get("self_vote") else [])
                  + verdict.get("votes", [])],
        "constraints": constraints,
    }


class _Outputs:
    """All output files of a run, written through temp files and renamed together at the end."""

    def __init__(self, outdir: Path, formats: tuple[str, ...], shape: Callable[[Trajectory, str, dict], Any] | None = None):
        self.outdir = outdir
        self.formats = formats
        self.shape = shape
        self.names = [out.file_name for f in formats for out in FORMATS[f]]
        self.counts = {n: 0 for n in self.names + ["sft_success.jsonl", "rejected.jsonl", "invalid.jsonl"]}
        self._files = {n: open(outdir / f".{n}.tmp", "w", encoding="utf-8") for n in self.counts}

    def _row(self, name: str, row: dict[str, Any]) -> None:
        self._files[name].write(json.dumps(row, ensure_ascii=False) + "\n")
        self.counts[name] += 1

    def add(self, e: dict[str, Any]) -> None:
        status = e["status"]
        if status == "invalid":
            field_ = e.get("field", "")
            reason = e.get("problem", e["reason"])
            if field_ and field_ != "file":
                reason = f"{field_}: {reason}"
            self._row("invalid.jsonl", {"where": e["where"], "field": field_, "reason": reason})
            return
        if status == "accepted":
            traj = Trajectory.from_dict(e["record"])
            for index, acc in enumerate(accepted_attempts(e)):
                goal = (acc or {}).get("goal") or e["goal"]
                meta, sample, original = _meta(e, acc, index), traj, None
                if self.shape is not None:
                    shaped = self.shape(traj, goal, (acc or {}).get("verification") or {})
                    meta["shaping"] = shaped.to_dict()
                    if shaped.traj != traj:
                        sample, original = shaped.traj, traj   # the DPO rejected side keeps the run as it was
                for name, row in package(sample, goal, float(e.get("weight", 1.0)), meta, self.formats,
                                         **({"original": original} if original is not None else {})).items():
                    self._row(name, row)
        elif status == "success":
            self._row("sft_success.jsonl", to_success_sft(Trajectory.from_dict(e["record"])))
        elif status in ("rejected", "error"):
            self._row("rejected.jsonl", {"id": e["id"], "where": e.get("where", ""), "status": status,
                                         "stage": e.get("stage", ""), "rejected_by": rejection_key(e),
                                         "reason": e.get("reason", "")})

    def commit(self) -> dict[str, int]:
        import os
        for name, f in self._files.items():
            f.flush()
            os.fsync(f.fileno())
            f.close()
            tmp = self.outdir / f".{name}.tmp"
            if name == "sft_success.jsonl" and self.counts[name] == 0:
                tmp.unlink()
                continue
            os.replace(tmp, self.outdir / name)
        info = {n: n for n in self.names}
        if self.counts["sft_success.jsonl"]:
            info["sft_success.jsonl"] = "sft_success.jsonl"
        write_json_atomic(self.outdir / "dataset_info.json", dataset_info(info))
        written = {k: v for k, v in self.counts.items() if k != "sft_success.jsonl" or v}
        write_text_atomic(self.outdir / "README.md", dataset_card(written))
        return written

    def abort(self) -> None:
        for name, f in self._files.items():
            f.close()
            (self.outdir / f".{name}.tmp").unlink(missing_ok=True)


def _count(summary: Summary, e: dict[str, Any]) -> None:
    summary.counts[e["status"]] = summary.counts.get(e["status"], 0) + 1
    ftype = (e.get("failure") or {}).get("failure_type")
    if ftype:
        t = summary.per_type.setdefault(ftype, {})
        t[e["status"]] = t.get(e["status"], 0) + 1
    for a in (e.get("relabel") or {}).get("attempts", []):
        if a["status"] in ("cut", "degenerate"):
            summary.lost_drafts[a["status"]] = summary.lost_drafts.get(a["status"], 0) + 1
    if e["status"] in ("rejected", "error"):
        k = rejection_key(e)
        summary.rejected_by[k] = summary.rejected_by.get(k, 0) + 1


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(opts: RunOptions, cfg: Config, pipeline: Any, describe: dict[str, Any],
        progress: Callable[[int], Any] | None = None, engine: Any = None) -> Summary:
    """Process every input record with `pipeline.process` (or on `engine`), journaling each;
    write outputs.

    Memory stays flat in the number of records: decided records live in the journal, only
    their keys (and, for output order, input positions) are kept, and outputs are streamed
    from the journal at the end, in input order whatever order the engine finished them in.
    """
    from .engines import LocalEngine

    engine = engine or LocalEngine(pipeline)
    t0 = time.perf_counter()
    summary = Summary()
    outdir = Path(opts.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    journal = Journal(outdir / "journal.jsonl")
    done: set[str] = set()
    if journal.exists():
        if not opts.resume:
            raise AgentherError(f"{outdir}: holds the journal of an earlier run; resume it (drop --no-resume) "
                                "or choose another OUTDIR")
        done = {e["key"] for e in journal.read()}
        summary.resumed = len(done)
        summary.resumed_with_other_config = config_changes(journal.header().get("config") or {}, cfg.to_dict())
    journal.open({"config": cfg.to_dict(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    seen_ids: dict[str, str] = {}
    wanted: dict[str, int] = {}      # key -> position in the input
    bar = progress(_count_records(opts) if not opts.limit else opts.limit) if progress else None
    accepted = 0

    def record(results) -> None:
        nonlocal accepted
        for key, where, entry in results:
            if key in done:
                continue          # a retried trajectory that had already come back
            journal.append({"key": key, "where": where, **entry})
            done.add(key)
            accepted += entry["status"] == "accepted"
            if bar:
                bar.update(1)
                bar.set_postfix_str(f"accepted {accepted}")
    try:
        for where, item in iter_inputs(opts, summary):
            if opts.limit is not None and summary.read >= opts.limit:
                break
            summary.read += 1
            if isinstance(item, Trajectory) and item.id in seen_ids:
                item = RecordError("id", f"duplicate id {item.id!r} (first at {seen_ids[item.id]})", where)
            if isinstance(item, RecordError):
                if opts.strict:
                    raise StrictStop(item.line())
                key = f"invalid:{where}:{item.field}"
                wanted.setdefault(key, len(wanted))
                if key not in done:
                    journal.append({"key": key, "status": "invalid", "where": where, "reason": item.line(),
                                    "field": item.field, "problem": item.problem})
                    done.add(key)
            else:
                seen_ids[item.id] = where
                key = f"id:{item.id}"
                wanted.setdefault(key, len(wanted))
                if key not in done:
                    if not item.is_labeled and opts.unlabeled == "skip":
                        record([(key, where, {"id": item.id, "status": "skipped_unlabeled", "stage": "input",
                                              "reason": "no success label in this format; pass --unlabeled failed "
                                                        "to relabel it", "record": item.to_dict()})])
                    else:
                        record(engine.submit(key, where, item if item.is_labeled else _as_failed(item)))
                    continue
            if bar:
                bar.update(1)
        record(engine.drain())
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        journal.close()
        if bar:
            bar.close()
        engine_stats = _close(engine)
        if engine_stats.get("cache"):
            summary.cache = engine_stats["cache"]
    if summary.interrupted:
        summary.seconds = time.perf_counter() - t0
        return summary
    outputs = _Outputs(outdir, opts.formats, None if opts.keep_trajectory else _shaper(opts))
    try:
        for e in journal.read_in_order(wanted):
            _count(summary, e)
            if e["status"] == "invalid":
                summary.invalid += 1
            outputs.add(e)
        summary.written = outputs.commit()
    except BaseException:
        outputs.abort()
        raise
    summary.seconds = time.perf_counter() - t0
    manifest = {
        "agenther_local": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "inputs": [{"path": str(p), "sha256": _sha256_file(Path(p)) if Path(p).is_file() else None,
                    "format": summary.detected.get(str(p), opts.source_format)} for p in opts.inputs],
        "config": cfg.to_dict(), "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.__dict__.items()
                                             if k not in ("inputs", "outdir")},
        **describe, "summary": summary.to_dict(),
        "timings": engine_stats.pop("timings", {}), "engine": engine_stats,
    }
    write_json_atomic(outdir / "manifest.json", manifest)
    return summary


def _shaper(opts: RunOptions) -> Callable[[Trajectory, str, dict], Any]:
    """Shapes each accepted sample from its goal's journaled verification (deterministic: a
    resumed run rebuilds the same outputs)."""
    import functools

    from .prompts import Prompts
    from .stages.shape import shape_sample
    return functools.partial(shape_sample, prompts=Prompts(opts.prompts_dir))


def _close(engine: Any) -> dict[str, Any]:
    try:
        return engine.stats()
    finally:
        engine.close()


def _count_records(opts: RunOptions) -> int | None:
    """Records in native JSONL inputs (one per non-empty line), for the progress bar's ETA;
    None when any input is in another format (counting would mean parsing it twice)."""
    total = 0
    for p in opts.inputs:
        p = Path(p)
        if opts.source_format not in ("native", "auto") or not p.is_file() or p.suffix != ".jsonl":
            return None
        with open(p, "rb") as f:
            total += sum(1 for line in f if line.strip())
    return total


def _as_failed(traj: Trajectory) -> Trajectory:
    import dataclasses
    return dataclasses.replace(traj, success=False)
