"""Targeted edits of a JSON text: change one value, or add one key, and leave every other byte as it
was (key order, indentation, inline objects), so a promotion's diff is the pinned version alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Any

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


class JsonEditError(ValueError):
    """The path is not in the document (or the text is not JSON)."""


@dataclass(frozen=True)
class Member:
    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _members(text: str, start: int) -> list[Member]:
    """The members of the object whose '{' is at ``start``."""
    if text[start : start + 1] != "{":
        raise JsonEditError(f"no object at offset {start}")
    out, i = [], _skip(text, start + 1)
    while text[i : i + 1] != "}":
        if text[i : i + 1] != '"':
            raise JsonEditError(f"expected a key at offset {i}")
        key, key_end = scanstring(text, i + 1)
        colon = _skip(text, key_end)
        if text[colon : colon + 1] != ":":
            raise JsonEditError(f"expected ':' at offset {colon}")
        value_start = _skip(text, colon + 1)
        _, value_end = _DECODER.raw_decode(text, value_start)
        out.append(Member(key, i, key_end, value_start, value_end))
        i = _skip(text, value_end)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
    return out


def _items(text: str, start: int) -> list[tuple[int, int]]:
    if text[start : start + 1] != "[":
        raise JsonEditError(f"no array at offset {start}")
    out, i = [], _skip(text, start + 1)
    while text[i : i + 1] != "]":
        _, end = _DECODER.raw_decode(text, i)
        out.append((i, end))
        i = _skip(text, end)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
    return out


def span(text: str, path: Sequence[str | int]) -> tuple[int, int]:
    """(start, end) offsets of the value at ``path`` (keys and list indexes)."""
    start = _skip(text, 0)
    _, end = _DECODER.raw_decode(text, start)
    for step in path:
        if isinstance(step, int):
            items = _items(text, start)
            if not 0 <= step < len(items):
                raise JsonEditError(f"no item {step} in the list at offset {start}")
            start, end = items[step]
        else:
            found = [m for m in _members(text, start) if m.key == step]
            if not found:
                raise JsonEditError(f"no key {step!r} in the object at offset {start}")
            start, end = found[-1].value_start, found[-1].value_end  # the last one, as json.loads
    return start, end


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def replace_value(text: str, path: Sequence[str | int], value: Any) -> str:
    """``text`` with the value at ``path`` replaced by ``value`` (written inline)."""
    start, end = span(text, path)
    return text[:start] + _dump(value) + text[end:]


def add_key(text: str, path: Sequence[str | int], key: str, value: Any) -> str:
    """``text`` with ``key: value`` appended to the object at ``path``, in that object's own layout:
    on a line of its own with the last member's indentation when the object spans lines, inline
    otherwise."""
    start, end = span(text, path)
    members = _members(text, start)
    entry = f"{_dump(key)}: {_dump(value)}"
    if not members:
        return text[:start] + "{" + entry + "}" + text[end:]
    last = members[-1]
    colon = text[last.key_end : last.value_start]
    entry = f"{_dump(key)}{colon}{_dump(value)}"
    if "\n" in text[start:end]:
        line_start = text.rfind("\n", 0, last.key_start) + 1
        indent = text[line_start : last.key_start]
        if indent.strip():  # the last member shares its line with another: follow the inline style
            return text[: last.value_end] + ", " + entry + text[last.value_end :]
        return text[: last.value_end] + ",\n" + indent + entry + text[last.value_end :]
    return text[: last.value_end] + ", " + entry + text[last.value_end :]


def loads(text: str) -> Any:
    return json.loads(text)
