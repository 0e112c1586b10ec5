"""Run pytest while other processes keep the cores busy: timing-dependent nondeterminism (a
decision that changes when the scheduler interleaves threads differently) shows up only then.

    python tests/under_load.py [--busy N] [--timeout SECONDS] [--repeat K] -- PYTEST_ARGS...

- `--busy N` busy-loop processes (default 1: a second process on the same cores, as on a
  shared machine). Each one also stops by itself after `--timeout` seconds, so none outlives
  this script even if it is killed with SIGKILL.
- pytest runs in its own process group; it is killed whole when `--timeout` passes.
- The busy processes are killed (by their own pids) in a `finally`, on success, failure,
  Ctrl-C or SIGTERM alike. Exit status: pytest's (the first failing one with `--repeat`).
Used by `make test` for the resume test (Makefile); the cost is measured in the README.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

BUSY = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


def _stop(proc: subprocess.Popen, group: bool = False) -> None:
    """Kill `proc` (with `group`, every process of its session: the CLI runs a test starts)."""
    if proc.poll() is not None and not group:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=1, help="busy-loop processes to run alongside (default 1)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before pytest and the load are killed")
    ap.add_argument("--repeat", type=int, default=1, help="run pytest this many times in a row under the load")
    ap.add_argument("pytest_args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    args = [x for x in a.pytest_args if x != "--"] if a.pytest_args[:1] == ["--"] else a.pytest_args
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    busy = [subprocess.Popen([sys.executable, "-c", BUSY.format(limit=a.timeout + 60)]) for _ in range(a.busy)]
    print(f"under_load: busy pids: {' '.join(str(p.pid) for p in busy)}", file=sys.stderr, flush=True)
    status, passed = 0, 0
    t0 = time.monotonic()
    try:
        for i in range(a.repeat):
            left = a.timeout - (time.monotonic() - t0)
            test = subprocess.Popen([sys.executable, "-m", "pytest", *args], start_new_session=True)
            try:
                rc = test.wait(timeout=max(1.0, left))
            except subprocess.TimeoutExpired:
                _stop(test, group=True)
                print(f"under_load: pytest killed after {a.timeout:.0f} s (run {i + 1} of {a.repeat})", file=sys.stderr)
                return 124
            finally:
                _stop(test, group=True)
            passed += rc == 0
            status = status or rc
    finally:
        for p in busy:
            _stop(p)
    print(f"under_load: {passed} of {a.repeat} pytest run(s) passed with {a.busy} busy process(es) "
          f"in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
