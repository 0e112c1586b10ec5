"""A conversation -> token ids + the mask of the agent's own tokens, through a chat template.

The agent's tokens are those of its assistant turns: thoughts, tool calls, what it said to the
user, the final answer, and the turn's end-of-turn token, the one that teaches it to stop. Every
other token (system, goal, tool outputs, user replies, the `<|im_start|>assistant` header that
the serving side writes) is context: it is scored by nothing.

How the spans are found, for any template: the text of assistant turn i is what rendering
`messages[:i+1]` adds to rendering `messages[:i]` with the generation prompt. That needs the
template to render a conversation's prefix as a prefix of its text, which ChatML, Llama 3 and
Qwen templates do; when it does not, `TemplateError` says so instead of guessing. The text is
then tokenized once, and a token belongs to the agent when it starts inside an agent span
(`return_offsets_mapping`, which every fast tokenizer, GGUF-converted ones included, provides).

Templates that drop tool calls are caught before training: a probe conversation must show the
call's name, its arguments as an object (not quoted twice) and the tool's output. A ChatML
tokenizer whose template fails the probe (SmolLM2's renders only `content`) gets the ChatML
template shipped here (`chatml_tools.jinja`); any other needs `--chat-template FILE`.

Needs only a `transformers` tokenizer; no torch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import AgentherError

PROBE_NAME, PROBE_ARG, PROBE_VALUE, PROBE_OUTPUT = ("agenther_probe_fn", "agenther_probe_arg",
                                                    "agenther probe value", "agenther probe output")
PROBE = [
    {"role": "user", "content": "probe"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function",
         "function": {"name": PROBE_NAME, "arguments": {PROBE_ARG: PROBE_VALUE}}}]},
    {"role": "tool", "tool_call_id": "call_0", "name": PROBE_NAME, "content": PROBE_OUTPUT},
    {"role": "assistant", "content": "done"},
]


class TemplateError(AgentherError):
    """A chat template that cannot train agent runs (drops tool calls, renders prefixes differently)."""


@dataclass(frozen=True)
class Encoded:
    """One side of a training row: token ids and which of them are the agent's (1) or context (0)."""
    input_ids: list[int]
    agent_mask: list[int]

    def agent_tokens(self) -> list[int]:
        """The ids the loss scores, in order.

        >>> Encoded([5, 6, 7, 8], [0, 1, 1, 0]).agent_tokens()
        [6, 7]
        """
        return [t for t, m in zip(self.input_ids, self.agent_mask) if m]


def shipped_chatml_template() -> str:
    return resources.files("agenther_local.train").joinpath("chatml_tools.jinja").read_text(encoding="utf-8")


def renders_tool_calls(text: str) -> bool:
    """Whether the rendered PROBE shows the call (arguments as an object) and the tool output.

    >>> renders_tool_calls('{"name": "agenther_probe_fn", "arguments": {"agenther_probe_arg": '
    ...                    '"agenther probe value"}} agenther probe output')
    True
    >>> renders_tool_calls("<|im_start|>assistant\\n<|im_end|> agenther probe output")
    False
    """
    double_encoded = f'\\"{PROBE_ARG}\\"' in text
    return (PROBE_NAME in text and f'"{PROBE_ARG}"' in text and PROBE_VALUE in text
            and PROBE_OUTPUT in text and not double_encoded)


def choose_template(tokenizer: Any, chat_template: str | Path | None = None) -> str:
    """The Jinja chat template to train with (see the module docstring); TemplateError if none fits.

    `chat_template` is a file path or the template text; None means the tokenizer's own.
    """
    if chat_template is not None:
        path = Path(chat_template) if not str(chat_template).lstrip().startswith("{") else None
        if path is not None and not path.is_file():
            raise TemplateError(f"--chat-template {chat_template}: no such file")
        text = path.read_text(encoding="utf-8") if path is not None else str(chat_template)
        if not renders_tool_calls(_render(tokenizer, PROBE, text, tools=None)):
            raise TemplateError(f"--chat-template {chat_template}: drops tool calls or tool outputs "
                                "(or quotes the arguments twice); the agent's calls would not be trained")
        return text
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, str) and own and renders_tool_calls(_render(tokenizer, PROBE, own, tools=None)):
        return own
    if "<|im_start|>" in tokenizer.get_vocab() and "<|im_end|>" in tokenizer.get_vocab():
        return shipped_chatml_template()
    reason = "has no chat template" if not own else "drops tool calls or tool outputs"
    raise TemplateError(f"the model's tokenizer {reason}; pass --chat-template FILE, a Jinja template "
                        "that renders `tool_calls` and `tool` messages")


def _render(tokenizer: Any, messages: list[dict[str, Any]], template: str, tools: list | None,
            add_generation_prompt: bool = False) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def agent_spans(tokenizer: Any, messages: list[dict[str, Any]], template: str,
                tools: list | None = None) -> tuple[str, list[tuple[int, int]]]:
    """(the rendered conversation, [(start, end) character span of each assistant turn])."""
    text = _render(tokenizer, messages, template, tools)
    spans = []
    for i, m in enumerate(messages):
        if m.get("role") != "assistant":
            continue
        before = _render(tokenizer, messages[:i], template, tools, add_generation_prompt=True)
        upto = _render(tokenizer, messages[:i + 1], template, tools)
        if not (upto.startswith(before) and text.startswith(upto)):
            raise TemplateError(f"the chat template renders the conversation up to message {i} differently "
                                "from the start of the whole conversation, so its assistant turns cannot be "
                                "located; pass --chat-template FILE")
        spans.append((len(before), len(upto)))
    return text, spans


def encode(tokenizer: Any, messages: list[dict[str, Any]], template: str,
           tools: list | None = None) -> Encoded:
    """Token ids of `messages` through `template`, with the agent mask (see the module docstring)."""
    text, spans = agent_spans(tokenizer, messages, template, tools)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(s <= start < e for s, e in spans)) for start, _ in enc["offset_mapping"]]
    return Encoded(list(enc["input_ids"]), mask)


def parse_tools(tools: Any, where: str) -> list | None:
    """A row's `tools` (a JSON string, a list, "" or None) as the list the template wants.

    >>> parse_tools('[{"name": "search"}]', "dpo.jsonl:1"), parse_tools("", "dpo.jsonl:1")
    ([{'name': 'search'}], None)
    """
    if tools in (None, ""):
        return None
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as e:
            raise AgentherError(f"{where}: tools: not JSON ({e.msg})") from None
    if not isinstance(tools, list):
        raise AgentherError(f"{where}: tools: expected a JSON list, got {type(tools).__name__}")
    return tools
