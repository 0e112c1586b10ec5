"""The two losses, as plain torch functions of logits, masks and weights.

    sequence_logps    log π(τ|x) = Σ over agent tokens of log p(token | everything before it)
    goal_contrast_dpo L = w · -log σ(β · [(log π(τ_c|ĝ) - log π_ref(τ_c|ĝ)) - (log π(τ_r|g) - log π_ref(τ_r|g))])
    weighted_sft      L = w · mean over agent tokens of -log p(token | before)

Each returns the per-row losses; the batch loss is their mean, so w scales each row's share
(AgentHER SPEC step 4: "loss scaled by w"). Padding never counts: its mask is 0.
"""
from __future__ import annotations

from typing import Any


def token_logps(logits: Any, input_ids: Any) -> Any:
    """log p(input_ids[t] | input_ids[:t]) for t = 1..T-1, shape (B, T-1)."""
    import torch

    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def sequence_logps(logits: Any, input_ids: Any, agent_mask: Any) -> Any:
    """Σ of the agent tokens' log-probs per row, shape (B,). A token at position t is predicted
    from position t-1, so the mask is shifted with the ids."""
    return (token_logps(logits, input_ids) * agent_mask[:, 1:]).sum(-1)


def goal_contrast_dpo(policy_chosen: Any, policy_rejected: Any, ref_chosen: Any, ref_rejected: Any,
                      weight: Any, beta: float) -> tuple[Any, Any]:
    """(per-row loss, per-row reward margin β·Δ), both shape (B,).

    >>> import torch
    >>> loss, margin = goal_contrast_dpo(torch.tensor([-1.0]), torch.tensor([-1.0]), torch.tensor([-1.0]),
    ...                                  torch.tensor([-1.0]), torch.tensor([0.5]), beta=0.1)
    >>> round(loss.item(), 4), margin.item()   # Δ = 0: 0.5 · log 2
    (0.3466, 0.0)
    """
    import torch.nn.functional as F

    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -weight * F.logsigmoid(margin), margin


def weighted_sft(logits: Any, input_ids: Any, agent_mask: Any, weight: Any) -> Any:
    """Per-row w · mean NLL of the agent tokens, shape (B,)."""
    mask = agent_mask[:, 1:].float()
    nll = -(token_logps(logits, input_ids) * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return weight * nll
