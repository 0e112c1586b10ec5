"""`agenther-local run`: the main job."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from . import cli
from ._common import format_choice, print_summary, progress_factory

FORMAT_NAMES = ("sft", "dpo", "sharegpt")


def _formats(ctx, param, value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in items if v not in FORMAT_NAMES]
    if bad or not items:
        raise click.BadParameter(f"unknown format '{bad[0] if bad else value}' (known: {', '.join(FORMAT_NAMES)})")
    return items


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--outdir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML file with every option; flags override it.")
@click.option("--from", "source_format", default=None, type=format_choice(), help="Input format (default: auto-detect).")
@click.option("--formats", default=None, callback=lambda c, p, v: _formats(c, p, v) if v else None, help="Comma list of sft,dpo,sharegpt.")
@click.option("--jury", default=None, help="Preset (fast, strong) or comma list of model[@prompt].")
@click.option("--writer", default=None, help="Model that drafts hindsight goals (default: the jury preset's).")
@click.option("--rule", default=None, help="Jury rule: majority, strongest, mean, all.")
@click.option("--single-judge", is_flag=True, default=None, help="The paper's one-judge mode: the self-check's P(yes) alone decides (the writer's, unless the preset names a stronger one).")
@click.option("--rule-based", "rule_based", is_flag=True, default=None,
              help="No model at all: rule stages, and goals only from plans built from the evidence.")
@click.option("--rule-stages/--llm-stages", "rule_stages", default=None,
              help="Stages 1-2 (failure detector, outcome extractor) by rules or by the writer model (default: the jury preset's choice).")
@click.option("--accept-threshold", type=click.FloatRange(0, 1), default=None, help="θ for every juror (overrides calibrated thresholds).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Process at most N records.")
@click.option("--seed", type=int, default=None, help="Seed of every sampled call (default 0).")
@click.option("--include-successes", is_flag=True, default=None, help="Also write successful runs to sft_success.jsonl (the success-only baseline).")
@click.option("--labels", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Success labels kept apart from the runs (SWE-bench report or results.json, or {id: true|false}), joined on instance id.")
@click.option("--unlabeled", type=click.Choice(["skip", "failed"]), default=None, help="Records without a success label: skip (default) or treat as failed.")
@click.option("--branches", is_flag=True, default=None, help="ToolBench: also relabel every abandoned branch of the search tree.")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Directory of templates overriding prompts/.")
@click.option("--n-ctx", type=click.IntRange(min=512), default=None, help="Context size of every judge.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for llama.cpp.")
@click.option("--gpu-layers", type=click.IntRange(min=-1), default=None, help="Layers to offload to the GPU (-1 = all, 0 = none; default: all on a CUDA/Metal build, none on a CPU build).")
@click.option("--goals-per-run", type=click.IntRange(min=1), default=None,
              help="Hindsight goals per failed run, each its own sample: all writes, other records read, what was achieved by an earlier step (default 1; near-duplicates dropped).")
@click.option("--keep-trajectory", is_flag=True, default=None,
              help="Samples keep the whole run (default: cut after the last step the goal needs, final message from its evidence).")
@click.option("--strict", is_flag=True, default=None, help="Stop at the first bad record.")
@click.option("--no-cache", is_flag=True, default=None, help="Do not read or write the model-call cache.")
@click.option("--no-resume", is_flag=True, default=None, help="Refuse an OUTDIR that holds an earlier run's journal.")
@click.option("--no-report", is_flag=True, default=None, help="Do not write report.html.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
              help="Process here (local, default) or on Ray actors (needs agenther-local[ray]).")
@click.option("--address", default=None, help="--engine ray: cluster address (e.g. auto, ray://head:10001); default: a local cluster.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="--engine ray: actors, each loading its own models (default 2).")
@click.option("--cpus-per-worker", type=click.IntRange(min=1), default=None,
              help="--engine ray: CPUs per actor, also its llama.cpp threads unless --threads (default 1).")
@click.option("-q", "--quiet", is_flag=True, default=None, help="No progress bar.")
def run(inputs, outdir, config_file, **flags):
    """Relabel failed trajectories into SFT/DPO/ShareGPT data with local judges."""
    from ..config import load_config
    from ..errors import ConfigError
    from ..pipeline import PipelineOptions, build_pipeline
    from ..runner import RunOptions, run as run_job

    cfg, file_opts = load_config(config_file)
    known = set(flags) | {"formats"}
    unknown = [k for k in file_opts if k.replace("-", "_") not in known]
    if unknown:
        raise ConfigError(f"{config_file}: [run] unknown key '{unknown[0]}'")
    o = {k.replace("-", "_"): v for k, v in file_opts.items()}
    o.update({k: v for k, v in flags.items() if v is not None})
    if isinstance(o.get("formats"), str):
        o["formats"] = _formats(None, None, o["formats"])
    rt = {}
    for flag, key in (("n_ctx", "n_ctx"), ("threads", "n_threads"), ("gpu_layers", "n_gpu_layers"), ("seed", "seed")):
        if o.get(flag) is not None:
            rt[key] = o[flag]
    if rt:
        cfg = cfg.replace("runtime", **rt)
    if o.get("goals_per_run") is not None:
        cfg = cfg.replace("relabel", goals_per_run=int(o["goals_per_run"]))
    popts = PipelineOptions(jury=o.get("jury", "fast"), writer=o.get("writer"), rule=o.get("rule"),
                            rule_based=True if o.get("rule_based") else o.get("rule_stages"),
                            no_model=bool(o.get("rule_based")), accept_threshold=o.get("accept_threshold"),
                            prompts_dir=Path(o["prompts_dir"]) if o.get("prompts_dir") else None,
                            use_cache=not o.get("no_cache"), seed=int(o.get("seed", 0)),
                            include_successes=bool(o.get("include_successes")), single_judge=bool(o.get("single_judge")),
                            shaped=not o.get("keep_trajectory"))
    ropts = RunOptions(inputs=list(inputs), outdir=outdir, source_format=o.get("source_format", "auto"),
                       formats=tuple(o.get("formats") or FORMAT_NAMES), limit=o.get("limit"), strict=bool(o.get("strict")),
                       resume=not o.get("no_resume"), branches=bool(o.get("branches")),
                       unlabeled=o.get("unlabeled", "skip"), quiet=bool(o.get("quiet")),
                       labels=Path(o["labels"]) if o.get("labels") else None,
                       keep_trajectory=bool(o.get("keep_trajectory")),
                       prompts_dir=Path(o["prompts_dir"]) if o.get("prompts_dir") else None)
    if o.get("labels"):
        from ..adapters.labels import load_labels
        load_labels(o["labels"])        # a bad labels file stops the run before models load
    engine_name = o.get("engine") or "local"
    if engine_name == "local" and any(o.get(k) is not None for k in ("address", "workers", "cpus_per_worker")):
        raise ConfigError("--address, --workers and --cpus-per-worker need --engine ray")
    if engine_name == "ray":
        from ..engines import import_ray
        import_ray()        # says how to install Ray before any model loads
        cpus = int(o.get("cpus_per_worker") or 1)
        if cfg.runtime.n_threads is None:
            cfg = cfg.replace("runtime", n_threads=cpus)
    pipeline, judges, cache = build_pipeline(popts, cfg)   # models load lazily: the ray driver loads none
    describe = _describe(pipeline, judges, popts)
    engine = None
    if engine_name == "ray":
        import functools

        from ..engines import RayEngine
        from ..pipeline import build_for_worker
        engine = RayEngine(functools.partial(build_for_worker, popts, cfg), workers=int(o.get("workers") or 2),
                           address=o.get("address"), cpus_per_worker=cpus)
    # SIGTERM behaves like Ctrl-C: the journal is flushed after every record anyway.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    summary = run_job(ropts, cfg, pipeline, describe, progress_factory(ropts.quiet), engine=engine)
    if engine is None and cache is not None:
        summary.cache = {"hits": cache.hits, "misses": cache.misses}
    if summary.interrupted:
        click.echo(f"Interrupted: {sum(summary.counts.values())} record(s) journaled in {outdir}/journal.jsonl. "
                   f"Resume with the same command.", err=True)
        sys.exit(130)
    if not o.get("no_report"):
        _write_report(outdir)
    print_summary(summary, outdir)


def _describe(pipeline, judges, popts) -> dict:
    models = {}
    for name, j in judges.items():
        m = getattr(j, "manifest", None)
        models[name] = {"sha256": j.sha256, "file": m.file if m else "", "chat_format": m.chat_format if m else ""}
    prompts = pipeline.prompts
    templates = {n: prompts.sha256(n) for n in prompts.names()}
    jurors = [{"juror": j.id, "threshold": j.threshold, "threshold_source": j.threshold_source}
              for j in (pipeline.jury.jurors if pipeline.jury else [])]
    return {"models": models, "templates": templates, "jury": {"preset": popts.jury, "rule": pipeline.jury.rule if pipeline.jury else "single",
            "jurors": jurors, "writer": pipeline.writer.id,
            "self_check": {"juror": pipeline.self_juror.id, "threshold": pipeline.self_juror.threshold,
                           "threshold_source": pipeline.self_juror.threshold_source}},
            "embedder": pipeline.embedder.id, "seed": popts.seed}


def _write_report(outdir: Path) -> None:
    try:
        from ..report import write_report
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("agenther_local"):
            return
        raise
    write_report(outdir)
