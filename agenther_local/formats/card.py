"""The dataset card `README.md` of an output folder: one named config per training file.

`datasets.load_dataset(OUT)` on a folder without a card globs every file in it (journal.jsonl,
rejected.jsonl, manifest.json ...) into one table and fails on their different columns. With a
`configs:` block in the card's YAML header (datasets docs, "Manual configuration": `config_name`,
`data_files` with `split`/`path`, `default`), it loads exactly one file per config:
`load_dataset(OUT, "dpo")`. `sft` is the default config when it was written.

Only files that hold at least one row get a config: an empty JSONL has no columns to load.
"""
from __future__ import annotations

from pathlib import PurePath

# What each output file is for, as the card says it; keyed by file name. The config name is the
# file's stem (`sft.jsonl` -> `sft`).
DESCRIPTIONS = {
    "sft.jsonl": "TRL conversational SFT (`messages`, `tools`): the hindsight goal as the user turn, "
                 "the run as the assistant's turns. `agenther-local train sft`, or TRL's SFTTrainer "
                 "with `assistant_only_loss=True`.",
    "dpo.jsonl": "Goal-contrast DPO (`prompt_chosen`, `prompt_rejected`, `completion`): the same run "
                 "under the hindsight goal (chosen) and the original goal (rejected). "
                 "`agenther-local train dpo`; stock TRL DPOTrainer refuses these rows on purpose.",
    "dpo_ms_swift.jsonl": "The same pairs for ms-swift (`messages`, `rejected_messages`); train with "
                          "`swift rlhf --rlhf_type dpo --loss_scale default` (its RLHF default "
                          "`last_round` scores only the final answer).",
    "sharegpt.jsonl": "LLaMA-Factory ShareGPT with tool turns (`conversations`, `system`, `tools`); "
                      "registered in `dataset_info.json` as `agenther_sharegpt`.",
    "sft_success.jsonl": "The success-only baseline: successful runs with their own goal, SFT format.",
}


def config_name(file_name: str) -> str:
    """The config a file loads as.

    >>> config_name("dpo_ms_swift.jsonl")
    'dpo_ms_swift'
    """
    return PurePath(file_name).stem


def dataset_card(counts: dict[str, int], title: str = "agenther-local output") -> str:
    """The card for an output folder: {file name: rows written} -> README.md text.

    Files not in DESCRIPTIONS (rejected.jsonl, invalid.jsonl) and files with no rows get no
    config; a name that is neither is a ValueError.

    >>> card = dataset_card({"sft.jsonl": 2, "dpo.jsonl": 0, "rejected.jsonl": 5})
    >>> print(card.split("---")[1].strip())
    configs:
    - config_name: sft
      data_files:
      - split: train
        path: sft.jsonl
      default: true
    """
    unknown = [n for n in counts if n not in DESCRIPTIONS and n not in ("rejected.jsonl", "invalid.jsonl")]
    if unknown:
        raise ValueError(f"unknown output file {unknown[0]!r}, must be one of {list(DESCRIPTIONS)}")
    loadable = [n for n in DESCRIPTIONS if counts.get(n, 0) > 0]
    yaml = ["configs:"]
    for name in loadable:
        yaml += [f"- config_name: {config_name(name)}", "  data_files:", "  - split: train",
                 f"    path: {name}"]
        if name == "sft.jsonl":
            yaml.append("  default: true")
    if not loadable:
        yaml = ["configs: []"]
    body = [f"# {title}", "",
            "Hindsight-relabelled agent runs (AgentHER), written by `agenther-local run`. Every row "
            "carries its quality weight `weight` (w, in [0, 1]) and the pipeline's explanation in "
            "`metadata`; `manifest.json` records the models, prompts and options, `journal.jsonl` "
            "every decision.", "",
            "| config | file | rows | what it is |", "|---|---|---|---|"]
    for name in DESCRIPTIONS:
        if name in counts:
            shown = f"`{config_name(name)}`" if name in loadable else "(empty: no config)"
            body.append(f"| {shown} | `{name}` | {counts[name]} | {DESCRIPTIONS[name]} |")
    example = config_name(loadable[1] if len(loadable) > 1 else (loadable or ["sft"])[0])
    body += ["", "```python", "from datasets import load_dataset",
             f'ds = load_dataset("path/to/this/folder", "{example}", split="train")', "```", ""]
    return "---\n" + "\n".join(yaml) + "\n---\n" + "\n".join(body)
