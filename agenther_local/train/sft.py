"""Weighted SFT on `sft.jsonl`: the loss is the agent tokens' mean NLL, scaled by each row's w.

A plain `transformers.Trainer` with its own collator and `compute_loss`. TRL's SFTTrainer would
re-tokenize `messages` with a template that needs `{% generation %}` markers for
`assistant_only_loss` and has no per-row weight; `data.sft_examples` already gives the agent mask.
"""
from __future__ import annotations

from typing import Any

from transformers import Trainer

from .dpo import _pad
from .loss import weighted_sft

COLUMNS = ["input_ids", "agent_mask", "weight"]


def collate_sft(examples: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Right-padded ids, attention and agent masks, and the weights.

    >>> batch = collate_sft([{"input_ids": [1, 2], "agent_mask": [0, 1], "weight": 1.0},
    ...                      {"input_ids": [3], "agent_mask": [1], "weight": 0.4}], 0)
    >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
    ([[1, 2], [3, 0]], [[1, 1], [1, 0]])
    """
    import torch

    ids = [e["input_ids"] for e in examples]
    return {"input_ids": _pad(ids, pad_token_id), "attention_mask": _pad([[1] * len(s) for s in ids], 0),
            "agent_mask": _pad([e["agent_mask"] for e in examples], 0),
            "weight": torch.tensor([float(e["weight"]) for e in examples])}


class WeightedSFTTrainer(Trainer):
    """Trainer whose loss is `loss.weighted_sft` over the agent tokens."""

    def _set_signature_columns_if_needed(self) -> None:
        if self._signature_columns is None:
            self._signature_columns = list(COLUMNS)

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        ids = inputs["input_ids"]
        out = model(input_ids=ids, attention_mask=inputs["attention_mask"], use_cache=False)
        loss = weighted_sft(out.logits, ids, inputs["agent_mask"], inputs["weight"]).mean()
        return (loss, out) if return_outputs else loss
