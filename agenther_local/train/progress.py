"""Training progress: transformers' tqdm bar on a terminal, a plain line every few seconds in a
log (agenther_local/progress.py), and the loss of every logged step kept for the summary."""
from __future__ import annotations

import sys
from typing import Any

from transformers import TrainerCallback

from ..progress import LineProgress


class LossLog(TrainerCallback):
    """Collects `loss` from each log event; writes LineProgress lines when stderr is not a terminal."""

    def __init__(self, kind: str, quiet: bool = False):
        self.kind = kind
        self.losses: list[float] = []
        self._lines = not quiet and not sys.stderr.isatty()
        self._bar: LineProgress | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._lines:
            self._bar = LineProgress(state.max_steps, "step", f"train {self.kind}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            if self._bar is not None:
                self._bar.set_postfix_str(f"loss {self.losses[-1]:.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.close()
