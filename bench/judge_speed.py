"""How fast are the local judges on this machine? Prints one JSON document.

Per model (smollm2-135m, qwen2.5-coder-0.5b, and qwen2.5-coder-1.5b when its packages are
installed), each in its own process so the peak RSS is that model's alone:
- load_seconds: llama.cpp load plus the yes/no vocabulary scan (judges/llama.py `_load`);
  joining part packages happens before, in `verify`, and is not counted;
- prompt_tokens_per_s: a ~350-token `verify` prompt evaluated from an empty KV cache
  (median of 3);
- json_generation / free_generation tokens_per_s: the relabel JSON under its grammar
  (`generate_json`), and the same prompt unconstrained; both timed on a call whose prompt is
  already in the KV cache, so the time is generation;
- judgment: seconds of P(yes) for 5 different goals on the same run, first with prefix reuse
  (as the jury asks), then with the KV cache emptied before each call;
- peak_rss_mb: getrusage's ru_maxrss at the end;
- backend: the build's compute backends (llama.cpp's system info), whether it can offload to a
  GPU, and where this model ran (`ran_on`: the GPU backend when layers were offloaded, else CPU).

The run is the first FireAct HotpotQA run with 2+ tool steps whose `verify` prompt is about
350 tokens, the size SPEC timed.

    AGENTHER_LOCAL_HOME=/tmp/bench .venv/bin/python bench/judge_speed.py [--threads N]

On a machine shared with other jobs, compare with `OMP_WAIT_POLICY=PASSIVE` in the environment.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FIXTURES = Path(os.environ.get("AGENTHER_FIXTURES", "/work/shared/fixtures"))
MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b")
OPTIONAL = ("qwen2.5-coder-1.5b",)       # measured only when present
# ~350 tokens of English and markup is about 1,400 characters; choosing the run by characters,
# not tokens, gives every model the same run.
TARGET_CHARS = (1250, 1550)
MIN_STEPS = 2
OTHER_GOALS = (
    "What is the boiling point of water at the top of Mount Everest?",
    "Book a flight from Boston to Denver for next Tuesday.",
    "List three open-source licences that allow commercial use.",
)


def bench_run(prompts):
    """The first FireAct run with MIN_STEPS+ tool steps whose verify prompt is ~350 tokens."""
    from agenther_local import adapters
    from agenther_local.trajectory import Trajectory

    path = next((FIXTURES / "fireact_hotpotqa").glob("*.json"))
    lo, hi = TARGET_CHARS
    for _, t in adapters.read(path):
        if isinstance(t, Trajectory) and len(t.steps) >= MIN_STEPS:
            r = prompts.render("verify", traj=t, goal=t.goal)
            if lo <= len(r.system) + len(r.user) <= hi:
                return path, t
    raise SystemExit(f"{path}: no run with {MIN_STEPS}+ steps and a verify prompt of {lo}-{hi} characters")


def measure(name: str, threads: int | None) -> dict:
    from agenther_local.config import DetectConfig, RelabelConfig, RuntimeConfig
    from agenther_local.judges.generation import fit_budget
    from agenther_local.judges.llama import LlamaJudge, backends, gpu_layers
    from agenther_local.judges.manifest import get_manifest, verify
    from agenther_local.prompts import Prompts
    from agenther_local.stages.extract import RuleExtractor, extract_outcome
    from agenther_local.stages.relabel import SCHEMA

    m = get_manifest(name)
    verify(m)                                   # join parts / hash once, outside the timings
    judge = LlamaJudge(m, RuntimeConfig(n_threads=threads))
    t0 = time.perf_counter()
    llama = judge._model().llama
    load = time.perf_counter() - t0
    prompts = Prompts()
    path, traj = bench_run(prompts)
    toks = judge.tokens(prompts.render("verify", traj=traj, goal=traj.goal))

    evals = []
    for _ in range(3):
        llama.reset()
        t0 = time.perf_counter()
        llama.eval(toks)
        evals.append(time.perf_counter() - t0)
    prompt_eval = statistics.median(evals)

    rcfg = RelabelConfig()
    outcome = extract_outcome(traj, RuleExtractor(), DetectConfig())
    relabel = prompts.render("relabel", traj=traj, outcome=outcome, original_goal=traj.goal)
    schema, budget = fit_budget(SCHEMA, rcfg.max_goal_tokens)
    gen_args = (relabel, schema, rcfg.first_temperature, 0, budget)
    cold = judge.generate_json(*gen_args)
    warm = judge.generate_json(*gen_args)       # prompt already in the KV cache: time is generation
    rtoks = judge.tokens(relabel)
    t0 = time.perf_counter()
    free = llama.create_completion(prompt=rtoks, max_tokens=budget,
                                   temperature=rcfg.first_temperature, seed=0, top_k=40, top_p=0.95)
    free_s = time.perf_counter() - t0
    free_n = free["usage"]["completion_tokens"]

    goals = (traj.goal, f"Find out: {traj.goal}") + OTHER_GOALS
    rendered = [prompts.render("verify", traj=traj, goal=g) for g in goals]
    reuse = [judge.p_yes(r) for r in rendered]
    fresh = []
    for r in rendered:
        llama.n_tokens = 0                      # forget the KV cache: evaluate the whole prompt
        fresh.append(judge.p_yes(r))
    # Not bit-identical: llama.cpp sums in a different order when it evaluates fewer tokens.
    drift = max(abs(a.p_yes - b.p_yes) for a, b in zip(reuse, fresh))

    import llama_cpp
    layers, _ = gpu_layers(judge.runtime.n_gpu_layers)
    return {
        "model": name, "file_mb": round(m.size / 1e6),
        # where it ran: the build's backends (GPU ones first), and the layers offloaded
        "backend": {"backends": backends(), "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
                    "n_gpu_layers": layers, "ran_on": backends()[0] if layers else "CPU",
                    "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()},
        "n_threads": llama.n_threads,
        # llama-cpp-python evaluates prompts on n_threads_batch threads (default: every core)
        "n_threads_batch": llama.context_params.n_threads_batch,
        "load_seconds": round(load, 3),
        "prompt_tokens": len(toks), "prompt_eval_seconds": round(prompt_eval, 3),
        "prompt_tokens_per_s": round(len(toks) / prompt_eval, 1),
        "json_generation": {"prompt_tokens": cold.prompt_tokens, "first_call_seconds": round(cold.seconds, 3),
                            "completion_tokens": warm.completion_tokens, "seconds": round(warm.seconds, 3),
                            "tokens_per_s": round(warm.completion_tokens / warm.seconds, 1),
                            "budget_tokens": budget, "finish": warm.finish, "parsed": warm.data is not None},
        "free_generation": {"completion_tokens": free_n, "seconds": round(free_s, 3),
                            "tokens_per_s": round(free_n / free_s, 1)},
        "judgment": {
            "goals": len(goals),
            "with_reuse_seconds": [round(s.seconds, 3) for s in reuse],
            "with_reuse_reused_tokens": [s.reused_tokens for s in reuse],
            "with_reuse_mean_seconds_after_first": round(statistics.mean(s.seconds for s in reuse[1:]), 3),
            "fresh_seconds": [round(s.seconds, 3) for s in fresh],
            "fresh_mean_seconds": round(statistics.mean(s.seconds for s in fresh), 3),
            "prompt_tokens": [s.prompt_tokens for s in reuse],
            "p_yes": [round(s.p_yes, 4) for s in reuse],
            "p_yes_max_difference_reuse_vs_fresh": round(drift, 6),
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "run": {"file": path.name, "id": traj.id, "steps": len(traj.steps)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: its own choice)")
    ap.add_argument("--one", help=argparse.SUPPRESS)          # child process: measure one model
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.threads)))
        return

    from agenther_local.judges.manifest import get_manifest, is_present
    names = list(MODELS) + [n for n in OPTIONAL if is_present(get_manifest(n))]
    # OMP_WAIT_POLICY matters on a busy machine: OpenMP threads spinning at a barrier while
    # another process holds a core made prompt evaluation ~4x slower here (measured 9.3 s vs
    # 2.4 s for 320 SmolLM2 tokens, n_threads_batch=2, one core busy elsewhere).
    out = {"cpu_count": os.cpu_count(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
           "load_avg_before": [round(x, 2) for x in os.getloadavg()],
           "models": {}}
    for name in names:
        cmd = [sys.executable, __file__, "--one", name] + (["--threads", str(args.threads)] if args.threads else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            out["models"][name] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
            continue
        out["models"][name] = json.loads(done.stdout.strip().splitlines()[-1])
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
