"""Turn a rendered prompt into the exact text a model reads, per chat format.

Formats (manifest `chat_format`):
- chatml (SmolLM2, Qwen2.5): <|im_start|>role\\n...<|im_end|>
- gemma: <start_of_turn>user/model; the system text is folded into the user turn
- llama3: <|start_header_id|>role<|end_header_id|>\\n\\n...<|eot_id|>
- raw: plain text ending in "Answer:" for base models (Gemma-3-270M behaves as one: with a
  chat template llama.cpp's auto format made " <<" its top next token)
- gguf: the Jinja chat template stored in the GGUF file itself (any model a user brings)
"""
from __future__ import annotations

from typing import Callable

from ..prompts import Rendered

RAW_ANSWER_PREFIX = "Answer:"


def render_chat(prompt: Rendered, chat_format: str,
                gguf_template: Callable[[list[dict[str, str]]], str] | None = None) -> str:
    msgs = prompt.messages()
    prefix = prompt.answer_prefix
    if chat_format == "chatml":
        body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)
        return body + "<|im_start|>assistant\n" + prefix
    if chat_format == "gemma":
        text = "\n\n".join(m["content"] for m in msgs)
        return f"<start_of_turn>user\n{text}<end_of_turn>\n<start_of_turn>model\n{prefix}"
    if chat_format == "llama3":
        body = "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
                       for m in msgs)
        return "<|begin_of_text|>" + body + "<|start_header_id|>assistant<|end_header_id|>\n\n" + prefix
    if chat_format == "raw":
        text = "\n\n".join(m["content"] for m in msgs)
        return f"{text}\n\n{prefix or RAW_ANSWER_PREFIX}"
    if chat_format == "gguf":
        if gguf_template is None:
            raise ValueError("chat_format 'gguf' needs the model's embedded template")
        return gguf_template(msgs) + prefix
    raise ValueError(f"unknown chat format {chat_format!r}")
