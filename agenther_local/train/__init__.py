"""Fine-tune on an output folder (optional extra `[train]`: TRL, transformers, peft, gguf).

    tokenize.py   conversation -> ids + agent mask through a chat template (tool calls checked)
    data.py       dpo.jsonl / sft.jsonl rows -> tokenized examples, errors at file:line
    loss.py       goal-contrast DPO and weighted SFT losses (plain torch)
    dpo.py        GoalContrastDPOTrainer, a TRL DPOTrainer for per-side prompts
    sft.py        WeightedSFTTrainer, a transformers Trainer
    model.py      --model as a HF folder, a GGUF file or a judge manifest name
    progress.py   a TrainerCallback: loss per step, progress lines when stderr is a log
    chatml_tools.jinja   ChatML with tool calls, for ChatML models whose template drops them
    run.py        train(TrainOptions) -> TrainResult: what `agenther-local train` calls

Nothing here is imported by the pipeline; importing this package imports nothing heavy.
"""
