"""The one walker over parsed JSON: every scalar leaf with its path (the extractor and the
call-value shaping both read JSON this way)."""
from __future__ import annotations

from typing import Any, Iterator


def json_leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every scalar in parsed JSON, in document order.

    >>> list(json_leaves({"a": [1, {"b": None}], "c": "x"}))
    [('a[0]', 1), ('a[1].b', None), ('c', 'x')]
    """
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_leaves(v, f"{path}[{i}]")
    else:
        yield path, value
