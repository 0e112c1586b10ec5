"""Web runs: how many fixture runs convert, and which goals the plans get accepted on failed ones.

Prints JSON: per web fixture folder, runs converted / failed to convert (`--from auto`); then,
for the failed browser-use runs, `run --rule-based`'s accepted goals (plans only, no model),
each with the reading in `bench/web_readings.jsonl` (one reader's judgement against the pages;
a goal with no reading is listed as unread).

    .venv/bin/python bench/web.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT.parent / "shared" / "fixtures"
WEB = ("browser_use_webarena_infinity", "agentlab_browsergym")


def main() -> None:
    from agenther_local.adapters import read
    from agenther_local.errors import RecordError
    out: dict = {"bench": "web", "convert": {}}
    for name in WEB:
        got = list(read(FIX / name))
        bad = [f"{w}: {t}" for w, t in got if isinstance(t, RecordError)]
        out["convert"][name] = {"runs": len(got), "converted": len(got) - len(bad), "failed": bad}
    readings = {}
    path = ROOT / "bench" / "web_readings.jsonl"
    for line in path.read_text().splitlines() if path.exists() else ():
        r = json.loads(line)
        readings[(r["id"], r["goal"])] = r
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "agenther_local", "run", str(FIX / WEB[0]), "--rule-based", "-o", d, "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        rows = [json.loads(x) for x in (Path(d) / "journal.jsonl").read_text().splitlines()[1:]]
    failed = [e for e in rows if not e["status"].startswith("skipped")]
    acc = [e for e in failed if e["status"] == "accepted"]
    goals = [{"id": e["id"], "goal": e["goal"], **{k: readings.get((e["id"], e["goal"]), {}).get(k) for k in ("true", "why")}}
             for e in acc]
    read_ = [g for g in goals if g["true"] is not None]
    out["rule_based"] = {"failed_runs": len(failed), "accepted_runs": len(acc),
                         "yield": round(len(acc) / len(failed), 3) if failed else None,
                         "read_true": sum(bool(g["true"]) for g in read_), "read_false": sum(g["true"] is False for g in read_),
                         "unread": len(goals) - len(read_), "goals": goals}
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
