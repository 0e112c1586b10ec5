"""Goal-contrast DPO on TRL's DPOTrainer: each side is its own prompt + the completion, only the
agent's tokens are scored, and each row's loss is scaled by its quality weight w.

`GoalContrastDPOTrainer` keeps what DPOTrainer does well (the frozen reference: a copy of the
model, or the LoRA adapter switched off; PEFT wrapping; logging) and replaces the three parts
built for one shared prompt:
- `_prepare_dataset`: rows arrive tokenized by `data.dpo_examples`; nothing is re-tokenized
  (DPOTrainer would look for `prompt`/`chosen`/`rejected` and split a common prefix);
- the collator (`collate_goal_contrast`): chosen sides then rejected sides in one padded batch,
  with the agent mask in place of DPOTrainer's completion mask;
- `compute_loss`: `loss.goal_contrast_dpo` on summed agent-token log-probs, the mean of w·loss.
"""
from __future__ import annotations

import contextlib
from typing import Any

from trl import DPOTrainer

from .loss import goal_contrast_dpo, sequence_logps

COLUMNS = ["chosen_input_ids", "chosen_mask", "rejected_input_ids", "rejected_mask", "weight"]


def _pad(seqs: list[list[int]], value: int) -> Any:
    import torch

    width = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs], dtype=torch.long)


def collate_goal_contrast(examples: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """A batch of B rows -> 2B sequences, chosen first, right-padded.

    >>> batch = collate_goal_contrast([{"chosen_input_ids": [1, 2, 3], "chosen_mask": [0, 1, 1],
    ...                                 "rejected_input_ids": [4, 3], "rejected_mask": [0, 1], "weight": 0.5}], 0)
    >>> batch["input_ids"].tolist(), batch["agent_mask"].tolist(), batch["weight"].tolist()
    ([[1, 2, 3], [4, 3, 0]], [[0, 1, 1], [0, 1, 0]], [0.5])
    """
    import torch

    ids = [e["chosen_input_ids"] for e in examples] + [e["rejected_input_ids"] for e in examples]
    masks = [e["chosen_mask"] for e in examples] + [e["rejected_mask"] for e in examples]
    return {"input_ids": _pad(ids, pad_token_id), "attention_mask": _pad([[1] * len(s) for s in ids], 0),
            "agent_mask": _pad(masks, 0), "weight": torch.tensor([float(e["weight"]) for e in examples])}


class GoalContrastDPOTrainer(DPOTrainer):
    """DPOTrainer for `dpo.jsonl` goal-contrast rows (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("data_collator") is None:
            tokenizer = kwargs["processing_class"]
            kwargs["data_collator"] = lambda examples: collate_goal_contrast(examples, tokenizer.pad_token_id)
        super().__init__(*args, **kwargs)

    def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
        missing = [c for c in COLUMNS if c not in dataset.column_names]
        if missing:
            raise ValueError(f"{dataset_name} dataset: column {missing[0]!r} missing; build it with "
                             "agenther_local.train.data.dpo_examples")
        return dataset

    def _set_signature_columns_if_needed(self) -> None:
        if self._signature_columns is None:
            self._signature_columns = list(COLUMNS)

    def _reference(self, model: Any) -> Any:
        """A context in which `self._ref_forward` scores with the frozen reference."""
        if self.ref_model is not None:
            return contextlib.nullcontext(self.ref_model)
        unwrapped = self.accelerator.unwrap_model(model)
        return _AdapterOff(unwrapped)

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        import torch

        ids, attn, mask, weight = inputs["input_ids"], inputs["attention_mask"], inputs["agent_mask"], inputs["weight"]
        logps = sequence_logps(model(input_ids=ids, attention_mask=attn, use_cache=False).logits, ids, mask)
        with torch.no_grad(), self._reference(model) as ref:
            ref_logps = sequence_logps(ref(input_ids=ids, attention_mask=attn, use_cache=False).logits, ids, mask)
        chosen, rejected = logps.chunk(2)
        ref_chosen, ref_rejected = ref_logps.chunk(2)
        losses, margins = goal_contrast_dpo(chosen, rejected, ref_chosen, ref_rejected, weight, self.beta)
        loss = losses.mean()
        mode = "train" if model.training else "eval"
        metrics = self._metrics[mode]
        metrics["rewards/margins"].append(margins.mean().item())
        metrics["rewards/accuracies"].append((margins > 0).float().mean().item())
        metrics["logps/chosen"].append(chosen.mean().item())
        metrics["logps/rejected"].append(rejected.mean().item())
        metrics["weight"].append(weight.mean().item())
        return (loss, {"margins": margins}) if return_outputs else loss


class _AdapterOff:
    """The PEFT model with its adapter disabled: the base model, i.e. the reference."""

    def __init__(self, model: Any):
        self.model = model
        self._ctx = model.disable_adapter()

    def __enter__(self) -> Any:
        self._ctx.__enter__()
        return self.model

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)
