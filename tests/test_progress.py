"""Progress of long commands when stderr is a log (agenther_local/progress.py)."""
from __future__ import annotations

import doctest
import io

from agenther_local import progress
from agenther_local.progress import LineProgress, progress_bar


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_line_every_interval_with_done_total_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(60, "traj", "relabel", stream=out, every=10.0, clock=clock)
    for _ in range(4):          # 4 records in 8 s: no line yet
        clock.t += 2.0
        bar.update(1)
    assert out.getvalue() == ""
    clock.t += 2.0
    bar.set_postfix_str("accepted 1")
    bar.update(1)               # 5 records in 10 s
    assert out.getvalue() == "relabel: 5/60 traj (8%), 0.50 traj/s, ETA 1m50s, accepted 1\n"
    clock.t += 110.0
    bar.update(55)
    bar.close()
    last = out.getvalue().splitlines()[-1]
    assert last == "relabel: 60/60 traj (100%), 0.50 traj/s, elapsed 2m00s, accepted 1"


def test_slow_items_show_seconds_per_item_and_unknown_totals_show_the_count():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(None, "pair", "judge", stream=out, every=10.0, clock=clock)
    clock.t = 150.0
    bar.update(1)
    assert out.getvalue() == "judge: 1 pair, 150 s/pair, elapsed 2m30s\n"


def test_a_short_job_writes_nothing():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(3, "record", "convert", stream=out, every=10.0, clock=clock)
    bar.update(3)
    clock.t = 1.0
    bar.close()
    assert out.getvalue() == ""


def test_progress_bar_picks_lines_off_a_terminal_and_nothing_when_quiet():
    assert isinstance(progress_bar(5, "traj", "relabel", stream=io.StringIO()), LineProgress)
    assert progress_bar(5, "traj", "relabel", quiet=True) is None


def test_docstring_examples():
    result = doctest.testmod(progress)
    assert result.attempted > 0 and result.failed == 0
