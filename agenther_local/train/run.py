"""`agenther-local train dpo|sft OUT`: load, tokenize, train, save, report.

LoRA by default (the paper's r=16, α=32; `TrainConfig`), so the reference of DPO is the same
model with the adapter off and nothing is copied; `full=True` trains every weight against a
frozen copy. The result is saved with its tokenizer and the chat template it was trained with
(`chat_template.jinja`), so inference renders tool calls the way training did.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import AgentherError
from ..jsonl import file_mode, write_json_atomic
from .model import import_train_deps, load_model

KINDS = {"dpo": "dpo.jsonl", "sft": "sft.jsonl"}


@dataclass(frozen=True)
class TrainOptions:
    kind: str                                  # "dpo" or "sft"
    data: Path                                 # an output folder, or one JSONL file
    model: str                                 # HF folder, GGUF file, or manifest name
    output_dir: Path | None = None             # default: DATA/train-KIND
    chat_template: str | None = None
    max_steps: int | None = None               # overrides cfg.epochs
    full: bool = False                         # train every weight instead of a LoRA adapter
    quiet: bool = False
    cfg: TrainConfig = field(default_factory=TrainConfig)

    def data_file(self) -> Path:
        return self.data / KINDS[self.kind] if self.data.is_dir() else self.data


@dataclass
class TrainResult:
    output_dir: Path
    rows: int
    skipped_too_long: int
    steps: int
    losses: list[float]                        # one per logged step, in order
    summary: str


def _lora(cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def _common_args(opts: TrainOptions, out: Path) -> dict[str, Any]:
    cfg = opts.cfg
    args: dict[str, Any] = dict(
        output_dir=str(out), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, num_train_epochs=cfg.epochs, logging_steps=1,
        save_strategy="no", report_to=[], seed=cfg.seed, use_cpu=not _has_accelerator(),
        disable_tqdm=opts.quiet or not sys.stderr.isatty(), remove_unused_columns=False,
        gradient_checkpointing=False)
    if opts.max_steps is not None:
        args["max_steps"] = opts.max_steps
    return args


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def train(opts: TrainOptions) -> TrainResult:
    """Fine-tune `opts.model` on the folder's dpo.jsonl or sft.jsonl (see the module docstring)."""
    if opts.kind not in KINDS:
        raise AgentherError(f"unknown training kind {opts.kind!r} (known: {', '.join(KINDS)})")
    import_train_deps()
    from .data import dpo_examples, read_rows, sft_examples

    data_file = opts.data_file()
    rows = read_rows(data_file, opts.kind)      # a bad row fails here, before minutes of model loading
    from datasets import Dataset

    from .progress import LossLog
    from .tokenize import choose_template, shipped_chatml_template

    model, tokenizer = load_model(opts.model)
    template = choose_template(tokenizer, opts.chat_template)
    tokenized = dpo_examples if opts.kind == "dpo" else sft_examples
    examples = tokenized(rows, tokenizer, template, opts.cfg.max_length)
    if not examples.rows:
        raise AgentherError(f"{data_file}: no row to train on ({examples.summary(opts.cfg.max_length)})")
    dataset = Dataset.from_list(examples.rows)
    out = opts.output_dir or (opts.data if opts.data.is_dir() else opts.data.parent) / f"train-{opts.kind}"
    log = LossLog(opts.kind, quiet=opts.quiet)
    peft_config = None if opts.full else _lora(opts.cfg)
    if opts.kind == "dpo":
        from trl import DPOConfig

        from .dpo import GoalContrastDPOTrainer

        args = DPOConfig(**_common_args(opts, out), learning_rate=opts.cfg.dpo_learning_rate, beta=opts.cfg.beta,
                         max_length=None, precompute_ref_log_probs=False)
        ref = copy.deepcopy(model).eval() if opts.full else None
        trainer = GoalContrastDPOTrainer(model=model, ref_model=ref, args=args, train_dataset=dataset,
                                         processing_class=tokenizer, peft_config=peft_config, callbacks=[log])
    else:
        from transformers import TrainingArguments

        from .sft import WeightedSFTTrainer, collate_sft

        if peft_config is not None:
            from peft import get_peft_model
            model = get_peft_model(model, peft_config)
        args = TrainingArguments(**_common_args(opts, out), learning_rate=opts.cfg.sft_learning_rate)
        trainer = WeightedSFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                     data_collator=lambda ex: collate_sft(ex, tokenizer.pad_token_id),
                                     callbacks=[log])
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.chat_template = template
    tokenizer.save_pretrained(str(out))
    for saved in out.iterdir():    # safetensors are written 0600 whatever the umask, like mkstemp files
        if saved.is_file():
            saved.chmod(file_mode())
    result = TrainResult(out, len(examples.rows), len(examples.too_long), trainer.state.global_step, log.losses,
                         f"{data_file}: {examples.summary(opts.cfg.max_length)}")
    write_json_atomic(out / "agenther_train.json",
                      {"kind": opts.kind, "data": str(data_file), "model": opts.model, "full": opts.full,
                       "chat_template": "shipped chatml_tools.jinja" if template == shipped_chatml_template()
                       else "given" if opts.chat_template else "the model's own",
                       "config": asdict(opts.cfg), "rows": result.rows, "skipped_too_long": examples.too_long,
                       "steps": result.steps, "losses": result.losses})
    return result
