"""Observation records: each tool output split into the units whose values belong together.

SPEC ("What counts as evidence") measured that checking a goal's values against *any* tool
output accepts goals whose values come from different records (one flight's number with
another's departure time, the card of another reservation). So a tool output is split into
records, and a claim must find all its values in ONE record (or in records joined by an id):
- JSON (also JSON nested in a JSON string, and Python-literal dicts): every object that has an
  identity (an `id`/`*_id`/`*_number`/`code`/`name` field, or an id-like key in its parent)
  or is a list item is a record. Its text holds its own scalar leaves, the leaves of its
  child objects that have no identity of their own (`"prices": {"economy": 152}` belongs to
  its flight), and the identity fields of its ancestors (the reservation id above a flight).
  A list item that is itself a list of objects (a one-stop connection) is a record too.
- text: numbered or bulleted list items (`[1] ...`, `1) ...`, `- ...`), pipe-table rows (with
  their header), `Key: value` blocks, and the sentences of prose.
Every record keeps its step, its span in the observation (the enclosing string for JSON
nested in a string), a path ("$[0].flights[1]", "line 3-5") and its identity values.

A page a browser agent saw is cut by evidence/pages.py (elements with their row and section).
Not handled: XML/HTML structure (read as prose), CSV without pipes (each line is a sentence),
records that span several tool outputs (those are joined by id: evidence/model.py).
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator

from .values import IndexedText

# Keys whose value names the object they sit in (its identity): joins go through them.
_ID_KEY = re.compile(r"(?i)^(?:id|.*[_-]id|.*Id|.*_number|.*Number|number|code|.*_code|name|title|key|sku|asin|"
                     r"symbol|ticker|email|username|user_id|login|slug|uuid)$")
# A key of a dict-of-dicts that is itself an id ("credit_card_4421486", "L1001", "HAT136").
_ID_LIKE = re.compile(r"^(?=.*(?:\d|_))[A-Za-z0-9][\w.-]{2,}$")
MIN_SENTENCE_CHARS = 3


@dataclass(frozen=True)
class Record:
    step: int                        # index in traj.steps
    start: int                       # span in the step's observation
    end: int
    path: str                        # "$[0].flights[1]", "line 4", "row 2", "sentence 3"
    kind: str                        # object | item | row | block | sentence | output
    fields: tuple[tuple[str, str], ...]   # (key, value) for structured records; () for prose
    text: str                        # what values are matched in
    ids: tuple[str, ...] = ()        # identity values (normalised upper-case): what joins land on
    own_ids: tuple[str, ...] = ()    # this record's own identity (not inherited from parents)

    @cached_property
    def indexed(self) -> IndexedText:
        return IndexedText(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "span": [self.start, self.end], "path": self.path, "kind": self.kind,
                "text": self.text if len(self.text) <= 300 else self.text[:300] + "…"}


def norm_id(value: str) -> str:
    """Ids compare case-insensitively, without a leading '#'.

    >>> norm_id("#hat136 ")
    'HAT136'
    """
    return str(value).strip().lstrip("#").upper()


# ---------------------------------------------------------------------------- JSON with spans

@dataclass
class _Node:
    start: int
    end: int
    value: Any                       # dict: list of (key, _Node); list: list of _Node; else scalar
    kind: str                        # object | array | scalar


class _Parser:
    """A JSON parser that keeps every value's span (json.loads keeps none)."""

    _WS = re.compile(r"\s*")
    _NUM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
    _STR = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)

    def __init__(self, text: str):
        self.text = text

    def parse(self) -> _Node:
        node, pos = self._value(self._skip(0))
        if self._skip(pos) != len(self.text):
            raise ValueError("trailing text")
        return node

    def _skip(self, pos: int) -> int:
        return self._WS.match(self.text, pos).end()

    def _value(self, pos: int) -> tuple[_Node, int]:
        t = self.text
        if pos >= len(t):
            raise ValueError("unexpected end")
        ch = t[pos]
        if ch == "{":
            items, p = [], self._skip(pos + 1)
            if t[p:p + 1] == "}":
                return _Node(pos, p + 1, [], "object"), p + 1
            while True:
                m = self._STR.match(t, p)
                if not m:
                    raise ValueError("expected a key")
                key = json.loads(m.group())
                p = self._skip(m.end())
                if t[p:p + 1] != ":":
                    raise ValueError("expected ':'")
                child, p = self._value(self._skip(p + 1))
                items.append((key, child))
                p = self._skip(p)
                if t[p:p + 1] == ",":
                    p = self._skip(p + 1)
                    continue
                if t[p:p + 1] == "}":
                    return _Node(pos, p + 1, items, "object"), p + 1
                raise ValueError("expected ',' or '}'")
        if ch == "[":
            items, p = [], self._skip(pos + 1)
            if t[p:p + 1] == "]":
                return _Node(pos, p + 1, [], "array"), p + 1
            while True:
                child, p = self._value(p)
                items.append(child)
                p = self._skip(p)
                if t[p:p + 1] == ",":
                    p = self._skip(p + 1)
                    continue
                if t[p:p + 1] == "]":
                    return _Node(pos, p + 1, items, "array"), p + 1
                raise ValueError("expected ',' or ']'")
        if ch == '"':
            m = self._STR.match(t, pos)
            if not m:
                raise ValueError("unterminated string")
            return _Node(pos, m.end(), json.loads(m.group()), "scalar"), m.end()
        for word, val in (("true", True), ("false", False), ("null", None)):
            if t.startswith(word, pos):
                return _Node(pos, pos + len(word), val, "scalar"), pos + len(word)
        m = self._NUM.match(t, pos)
        if m:
            return _Node(pos, m.end(), json.loads(m.group()), "scalar"), m.end()
        raise ValueError(f"unexpected {ch!r}")


def _from_python(value: Any, start: int, end: int) -> _Node:
    """A tree from an already parsed value (no inner spans: every node spans start..end)."""
    if isinstance(value, dict):
        return _Node(start, end, [(str(k), _from_python(v, start, end)) for k, v in value.items()], "object")
    if isinstance(value, (list, tuple)):
        return _Node(start, end, [_from_python(v, start, end) for v in value], "array")
    return _Node(start, end, value, "scalar")


def parse_structured(text: str, start: int = 0, end: int | None = None) -> _Node | None:
    """The JSON (or Python-literal) value `text` holds, with spans offset by `start`; None if
    it holds none."""
    s = text.strip()
    if not s or s[0] not in "[{":
        return None
    try:
        node = _Parser(text).parse()
        if start:
            _shift(node, start)
        return node
    except (ValueError, RecursionError):
        pass
    try:
        value = ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if not isinstance(value, (dict, list, tuple)):
        return None
    return _from_python(value, start, start + len(text) if end is None else end)


def _shift(node: _Node, by: int) -> None:
    node.start += by
    node.end += by
    if node.kind == "object":
        for _, c in node.value:
            _shift(c, by)
    elif node.kind == "array":
        for c in node.value:
            _shift(c, by)


def _expand_strings(node: _Node) -> _Node:
    """A string leaf that holds JSON (ToolBench's `"response": "[{\\"id\\": ...}]"`) becomes
    the structure it holds, spanning the string."""
    if node.kind == "scalar":
        if isinstance(node.value, str) and node.value.strip()[:1] in ("[", "{"):
            inner = parse_structured(node.value)
            if inner is not None:
                return _expand_strings(_from_python(_plain(inner), node.start, node.end))
        return node
    if node.kind == "object":
        node.value = [(k, _expand_strings(c)) for k, c in node.value]
    else:
        node.value = [_expand_strings(c) for c in node.value]
    return node


def _plain(node: _Node) -> Any:
    if node.kind == "object":
        return {k: _plain(c) for k, c in node.value}
    if node.kind == "array":
        return [_plain(c) for c in node.value]
    return node.value


def _scalar_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "null" if v is None else str(v)


def _has_identity(items: list[tuple[str, _Node]]) -> bool:
    return any(_ID_KEY.match(k) and c.kind == "scalar" and c.value not in (None, "") for k, c in items)


def _is_id_keyed(items: list[tuple[str, _Node]]) -> bool:
    """A dict of objects keyed by ids: {"credit_card_4421486": {...}, "gift_card_..": {...}}."""
    return bool(items) and all(c.kind == "object" and _ID_LIKE.match(k) for k, c in items)


def _json_records(step: int, root: _Node) -> list[Record]:
    out: list[Record] = []

    def flat(node: _Node, prefix: str, fields: list[tuple[str, str]], children: list) -> None:
        """Collect `node`'s own leaves (and those of identity-less child objects) into fields;
        children that are records of their own go to `children` as (path, key, node)."""
        for k, c in node.value:
            key = f"{prefix}{k}"
            if c.kind == "scalar":
                fields.append((key, _scalar_text(c.value)))
            elif c.kind == "array" and all(x.kind == "scalar" for x in c.value):
                # "[]" marks a list: a record joined by id does not lend the ids it lists
                fields.append((key + "[]", ", ".join(_scalar_text(x.value) for x in c.value)))
            elif c.kind == "object" and _is_id_keyed(c.value):
                fields.append((key + "[]", ", ".join(kk for kk, _ in c.value)))
                for kk, cc in c.value:
                    children.append((f".{k}.{kk}", kk, cc))
            elif c.kind == "object" and not _has_identity(c.value):
                flat(c, key + ".", fields, children)
            else:
                children.append((f".{k}", None, c))

    def visit(node: _Node, path: str, inherited: list[tuple[str, str]], key_id: str | None, is_item: bool) -> None:
        if node.kind == "array":
            for i, c in enumerate(node.value):
                if c.kind == "array" and c.value and all(x.kind == "object" for x in c.value):
                    group: list[tuple[str, str]] = []
                    for j, x in enumerate(c.value):
                        sub: list = []
                        flat(x, f"[{j}].", group, sub)
                    out.append(_record(step, c, f"{path}[{i}]", "item", inherited + group, _ids(inherited, group, None)))
                visit(c, f"{path}[{i}]", inherited, None, True)
            return
        if node.kind != "object":
            return
        fields: list[tuple[str, str]] = []
        children: list = []
        flat(node, "", fields, children)
        if key_id is not None and (("id", key_id) not in fields):
            fields.insert(0, ("id", key_id))
        own = [(k, v) for k, v in fields if "." not in k and _ID_KEY.match(k) and v]
        # subtle: only the first id names the object itself ("reservation_id" before the
        # "user_id" it refers to); joining on the others would make a user's every
        # reservation one record with each of them
        if fields:
            out.append(_record(step, node, path or "$", "object", inherited + fields, _ids(inherited, own, key_id),
                               own_ids=tuple(norm_id(v) for _, v in own[:1])))
        passed = inherited + [(k, v) for k, v in own if v]
        for sub_path, kid, c in children:
            visit(c, (path or "$") + sub_path, passed, kid, False)

    visit(root, "$", [], None, False)
    return out


def _ids(inherited, own, key_id) -> tuple[str, ...]:
    vals = [v for k, v in list(inherited) + list(own) if _ID_KEY.match(k.rsplit(".", 1)[-1]) and v]
    if key_id:
        vals.append(key_id)
    return tuple(dict.fromkeys(norm_id(v) for v in vals))


def _record(step: int, node: _Node, path: str, kind: str, fields: list[tuple[str, str]], ids: tuple[str, ...],
            own_ids: tuple[str, ...] = ()) -> Record:
    # As JSON, so the value matchers' hints work as on raw tool output ('"price": 152' grounds
    # "$152"; first_name/last_name pairs join into a name).
    return Record(step, node.start, node.end, path, kind, tuple(fields), fields_text(fields), ids, own_ids)


def fields_text(fields) -> str:
    """A record's fields as one flat JSON object, the text its values are matched in.

    >>> fields_text([("price", "152"), ("id", "HAT1")])
    '{"price": "152", "id": "HAT1"}'
    """
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields) + "}"


# ---------------------------------------------------------------------------- text records

_ITEM = re.compile(r"^\s*(?:\[\d+\]|\d+[.)]|[-*•·])\s+\S")
_ROW = re.compile(r"^\s*\|?.*\|.*\|")
_KEYVAL = re.compile(r"^\s*[A-Za-z][\w .()/#'-]{0,40}:\s+\S")
# Sentences end at ". " before a capital or digit, and at " ; " (search snippets separate
# their items so); "·" is left alone: snippets use it both between items and inside one
# ("Bruce Willis · Leonard").
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\s+;\s+")


def _text_records(step: int, text: str) -> list[Record]:
    """List items, table rows, Key: value blocks, and sentences of the rest."""
    out: list[Record] = []
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    header: list[str] | None = None
    block: list[tuple[int, str]] = []

    def flush_block() -> None:
        if len(block) >= 2:
            s, e = block[0][0], block[-1][0] + len(block[-1][1])
            fields = tuple((ln.split(":", 1)[0].strip(), ln.split(":", 1)[1].strip()) for _, ln in block)
            # the line above a block names it ("Sony WH-1000XM5 ... - $328.00" over its specs)
            head = text[:s].rstrip("\n")
            above = head.rsplit("\n", 1)[-1].strip()
            if above and not _KEYVAL.match(above) and not _ROW.match(above) and len(above) <= 120:
                fields = (("title", above),) + fields
                s = head.rfind("\n") + 1 if "\n" in head else 0
            ids = tuple(norm_id(v) for k, v in fields if _ID_KEY.match(k.replace(" ", "_").lower()))
            out.append(Record(step, s, e, f"lines {_line_no(text, s)}-{_line_no(text, e)}", "block", fields,
                              text[s:e], ids, ids))
        else:
            for s, ln in block:
                out.extend(_sentences(step, text, s, s + len(ln)))
        block.clear()

    for s, line in lines:
        if _ROW.match(line):
            flush_block()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            if header is None:
                header = cells
                continue
            fields = tuple(zip(header, cells)) if len(header) == len(cells) else ()
            body = ", ".join(f"{h}: {c}" for h, c in fields) if fields else line
            out.append(Record(step, s, s + len(line), f"line {_line_no(text, s)}", "row", fields, body))
            continue
        header = None
        if _KEYVAL.match(line) and not _ITEM.match(line):
            block.append((s, line))
            continue
        flush_block()
        if _ITEM.match(line):
            out.append(Record(step, s, s + len(line), f"line {_line_no(text, s)}", "item", (), line))
        elif line.strip():
            out.extend(_sentences(step, text, s, s + len(line)))
    flush_block()
    return out


def _sentences(step: int, text: str, start: int, end: int) -> Iterator[Record]:
    chunk = text[start:end]
    bounds = [0] + [m.end() for m in _SENTENCE.finditer(chunk)] + [len(chunk)]
    for a, b in zip(bounds, bounds[1:]):
        piece = chunk[a:b]
        if len(piece.strip()) >= MIN_SENTENCE_CHARS:
            lead = len(piece) - len(piece.lstrip())
            s = start + a + lead
            yield Record(step, s, start + b, f"sentence at {s}", "sentence", (), piece.strip())


def _line_no(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def split_records(step: int, observation: str) -> list[Record]:
    """The records of one tool output (a structured output also keeps one record of the
    whole, kind 'output', used only where a whole result is the scope: a write call's).

    >>> rs = split_records(0, '{"reservation_id": "ABC123", "flights": [{"flight_number": "HAT1", "date": "2024-05-20"}]}')
    >>> [(r.path, r.kind, r.ids) for r in rs]
    [('$', 'object', ('ABC123',)), ('$.flights[0]', 'object', ('ABC123', 'HAT1'))]
    >>> [r.text for r in split_records(1, "Mia Li lives in Austin. She flies often.")]
    ['Mia Li lives in Austin.', 'She flies often.']
    """
    if PAGE_MARK.search(observation):
        return page_records(step, observation)       # a browser agent's page (evidence/pages.py)
    root = parse_structured(observation)
    if root is not None:
        return _json_records(step, _expand_strings(root))
    salvaged = _salvage(step, observation)
    return salvaged if salvaged else _text_records(step, observation)


def _salvage(step: int, text: str) -> list[Record]:
    """Records of the complete JSON objects inside a cut or wrapped output (ToolBench cuts
    its responses mid-list, inside an escaped string). Spans are the whole output: offsets
    inside an escaped string do not map back."""
    if "{" not in text or ":" not in text:
        return []
    body = text.replace('\\"', '"').replace("\\\\", "\\") if '\\"' in text else text
    out: list[Record] = []
    pos = body.find("{", 1)
    while 0 <= pos < len(body):
        end = _balanced(body, pos)
        node = parse_structured(body[pos:end]) if end else None
        if node is not None and node.kind == "object":
            whole = _from_python(_plain(node), 0, len(text))
            out.extend(_json_records(step, _expand_strings(whole)))
            pos = body.find("{", end)
        else:
            pos = body.find("{", pos + 1)
    for i, r in enumerate(out):
        out[i] = Record(r.step, 0, len(text), f"salvaged{r.path[1:]} #{i}", r.kind, r.fields, r.text, r.ids, r.own_ids)
    return out


def _balanced(text: str, start: int) -> int | None:
    """End of the {...} that opens at `start` (string-aware), or None if it never closes."""
    depth, in_str, esc = 0, None, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == in_str:
                in_str = None
        elif ch in "\"'":
            in_str = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


from .pages import PAGE_MARK, page_records  # noqa: E402  (pages.py imports Record from here)
