"""Where trajectories are processed: in this process, or on Ray actors.

The runner hands each undecided trajectory to an engine and journals whatever results come
back, in whatever order; outputs are then written in input order from the journal, so every
engine gives the same files for the same inputs and seed.

- `LocalEngine`: the pipeline in this process, one trajectory at a time.
- `RayEngine` (`run --engine ray`, extra `agenther-local[ray]`): N Ray actors, each building
  its own pipeline once (models loaded once per actor, never per trajectory). At most
  `in_flight` trajectories per actor are outstanding; results stream back as they finish.
  An actor that dies loses nothing: its outstanding trajectories are resubmitted to the
  others and a replacement actor is started. A result is journaled once, by key, so a retried
  trajectory is never duplicated either.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .errors import ConfigError
from .trajectory import Trajectory

Result = tuple[str, str, dict[str, Any]]       # (journal key, where, entry)

RAY_MISSING = "--engine ray needs Ray: pip install 'agenther-local[ray]' (or pip install 'ray>=2.9')"


class LocalEngine:
    name = "local"

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline

    def submit(self, key: str, where: str, traj: Trajectory) -> Iterator[Result]:
        yield key, where, self.pipeline.process(traj)

    def drain(self) -> Iterator[Result]:
        return iter(())

    def stats(self) -> dict[str, Any]:
        return {"engine": "local", "timings": dict(getattr(self.pipeline, "timings", {}))}

    def close(self) -> None:
        pass


def _cause(e: BaseException) -> str:
    """The innermost 'SomeError: message' line of a Ray error, else its last line."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"[\w.]*(Error|Exception): ", ln)]
    return (errors[-1] if errors else lines[-1] if lines else type(e).__name__)[:300]


def import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError(RAY_MISSING) from None
    return ray


class PipelineWorker:
    """The body of one Ray actor: a pipeline built once, then fed trajectories."""

    def __init__(self, factory: Callable[[], Any]):
        built = factory()
        self.pipeline, self.cache = built if isinstance(built, tuple) else (built, None)

    def process(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.pipeline.process(Trajectory.from_dict(record))

    def stats(self) -> dict[str, Any]:
        cache = {"hits": self.cache.hits, "misses": self.cache.misses} if self.cache is not None else {}
        return {"pid": os.getpid(), "node": os.uname().nodename, "timings": dict(getattr(self.pipeline, "timings", {})),
                "cache": cache}


@dataclass
class _Task:
    key: str
    where: str
    record: dict[str, Any]
    actor: int
    generation: int = 0
    tries: int = 1


class RayEngine:
    name = "ray"

    def __init__(self, factory: Callable[[], Any], workers: int = 2, address: str | None = None,
                 cpus_per_worker: float = 1.0, in_flight: int = 2, max_tries: int = 3,
                 init_kwargs: dict[str, Any] | None = None):
        ray = import_ray()
        self.ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:       # a local cluster sized for the workers
                kwargs["num_cpus"] = max(int(workers * cpus_per_worker), 1)
                # Ray starts workers at nice 15; here the workers are the job, and at that
                # priority any other process on the machine starves them (seen: 4 demo
                # records took over 15 minutes beside a benchmark).
                os.environ.setdefault("RAY_worker_niceness", "0")
            try:
                ray.init(**{**kwargs, **(init_kwargs or {})})
            except Exception as e:      # a wrong --address, a cluster that is down
                raise ConfigError(f"--engine ray: cannot start or reach Ray at {address or 'a local cluster'}: "
                                  f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        self.factory = factory
        self.remote_cls = ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(PipelineWorker)
        self.actors: list[Any] = [self.remote_cls.remote(factory) for _ in range(workers)]
        self.generation = [0] * workers
        self.pending: dict[Any, _Task] = {}
        self.in_flight = in_flight
        self.max_tries = max_tries
        self.deaths = 0
        self.retried = 0
        self.done_by: Counter[int] = Counter()
        self._dead_stats: list[dict[str, Any]] = []

    # -- scheduling -------------------------------------------------------------------------
    def _load(self) -> Counter[int]:
        return Counter(t.actor for t in self.pending.values())

    def _pick(self) -> int:
        load = self._load()
        return min(range(len(self.actors)), key=lambda i: (load[i], i))

    def _send(self, task: _Task) -> None:
        task.actor = self._pick()
        task.generation = self.generation[task.actor]
        ref = self.actors[task.actor].process.remote(task.record)
        self.pending[ref] = task

    def submit(self, key: str, where: str, traj: Trajectory) -> Iterator[Result]:
        self._send(_Task(key, where, traj.to_dict(), actor=0))
        while len(self.pending) >= self.in_flight * len(self.actors):
            yield from self._collect()

    def drain(self) -> Iterator[Result]:
        while self.pending:
            yield from self._collect()

    def _collect(self) -> Iterator[Result]:
        ray = self.ray
        ready, _ = ray.wait(list(self.pending), num_returns=1)
        for ref in ready:
            task = self.pending.pop(ref)
            try:
                entry = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                self._replace(task.actor, task.generation)
                if task.tries >= self.max_tries:
                    cause = _cause(e)
                    raise ConfigError(f"{task.where}: Ray workers died {task.tries} times on this trajectory "
                                      f"(last: {cause}); finished records are in the journal") from None
                task.tries += 1
                self.retried += 1
                self._send(task)
                continue
            except ray.exceptions.RayTaskError as e:
                raise e.as_instanceof_cause() from None
            self.done_by[task.actor] += 1
            yield task.key, task.where, entry

    def _replace(self, i: int, generation: int) -> None:
        """Actor i died: start a fresh one in its slot (its models load again, once).

        Every task outstanding on the dead actor fails on its own and is resubmitted then;
        only the first of those failures replaces the actor.
        """
        if self.generation[i] != generation:
            return
        self.deaths += 1
        self.generation[i] += 1
        self.actors[i] = self.remote_cls.remote(self.factory)

    def stats(self) -> dict[str, Any]:
        ray = self.ray
        per = []
        for a in self.actors:
            try:
                per.append(ray.get(a.stats.remote(), timeout=60))
            except Exception:       # an actor lost at the very end: its stats are gone, its results are not
                continue
        timings: dict[str, float] = {}
        for s in per:
            for k, v in s["timings"].items():
                timings[k] = timings.get(k, 0.0) + v
        cache = {"hits": sum(s["cache"].get("hits", 0) for s in per), "misses": sum(s["cache"].get("misses", 0) for s in per)}
        return {"engine": "ray", "workers": len(self.actors), "actor_deaths": self.deaths, "retried": self.retried,
                "done_per_worker": [self.done_by[i] for i in range(len(self.actors))],
                "nodes": sorted({s["node"] for s in per}), "timings": timings, "cache": cache}

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:
                pass
