"""Strict, hostile-input-proof JSON loading.

Every problem a file can have before it is even a JSON object (too big, empty, not UTF-8, bad
syntax, duplicate keys, NaN/Infinity, absurd nesting, not an object at the top) comes back as a
Finding, never as an exception.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from mlops_gitops.findings import Finding, json_path

MAX_BYTES = 1024 * 1024  # a config is a few KB; anything over 1 MiB is a mistake or an attack
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")  # the deepest legitimate config nests about 5 levels


class _Object(dict):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: list[str]


class _BadConstant:
    def __init__(self, token: str) -> None:
        self.token = token


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    dups: list[str] = []
    for key, value in pairs:
        if key in obj and key not in dups:
            dups.append(key)
        obj[key] = value
    obj.duplicates = dups
    return obj


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    newline = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1
    col = offset - (text.rfind(newline, 0, offset) + 1) + 1
    return line, col


def _syntax_hint(msg: str, text: str, pos: int) -> str:
    before = text[:pos].rstrip()
    if text[pos : pos + 2] in ("//", "/*") or text[pos : pos + 1] == "#":
        return 'JSON has no comments; remove them (a "description" field can hold notes)'
    if msg.startswith("Expecting property name enclosed in double quotes"):
        if before.endswith(","):
            return "remove the trailing comma before the closing brace"
        return 'JSON keys need double quotes, e.g. "model_name": ...'
    if msg.startswith("Expecting value"):
        if before.endswith(","):
            return "remove the trailing comma, or add the missing value"
        if text[pos : pos + 1] == "'":
            return "use double quotes for strings"
        return "a value (string, number, true/false, object or array) is missing here"
    if msg.startswith("Expecting ',' delimiter"):
        return "a comma is missing between two items"
    if msg.startswith("Unterminated string"):
        return "close the string with a double quote"
    if msg.startswith("Invalid control character"):
        return "escape line breaks and tabs inside strings as \\n and \\t"
    if msg.startswith("Extra data"):
        return "the file holds more than one JSON value; keep a single top-level object"
    return "fix the JSON syntax at that position"


class FileTooLarge(OSError):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class NotRegular(OSError):
    pass


def read_regular(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``. The type and size
    come from the opened file itself (no race between a check and the read), the open does not
    block on a FIFO, and at most ``max_bytes + 1`` bytes are read whatever the file claims: a link
    to /dev/zero or a pipe neither hangs nor exhausts memory."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise NotRegular("the path is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular("the path is not a regular file (a device, pipe or socket)")
        if info.st_size > max_bytes:
            raise FileTooLarge(info.st_size)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:  # grew since fstat
            raise FileTooLarge(total)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_json(
    path: Path, display: str, *, max_bytes: int = MAX_BYTES, example: str = '{"pipeline_type": ..., ...}'
) -> tuple[Any, list[Finding]]:
    """Load ``path`` as one JSON object. Returns (data or None, findings). ``example`` shows the
    top-level object the file should hold, for hints."""

    def finding(code: str, message: str, hint: str, where: str = "$") -> Finding:
        return Finding(display, where, code, message, hint)

    try:
        raw = read_regular(path, max_bytes)
    except FileTooLarge as exc:
        return None, [
            finding(
                "file-too-large",
                f"the file is {exc.size:,} bytes, over the {max_bytes:,}-byte limit for a config",
                "a config holds settings, not data: point at data with an s3:// location instead",
            )
        ]
    except NotRegular as exc:
        return None, [finding("not-a-file", str(exc), "replace it with a regular JSON file")]
    except OSError as exc:
        return None, [
            finding(
                "file-unreadable",
                f"cannot read the file: {exc.strerror or exc}",
                "check it exists and is readable",
            )
        ]

    if not raw.strip():
        return None, [
            finding("file-empty", "the file is empty", 'write a JSON object, e.g. {"pipeline_type": ...}')
        ]
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted and dropped
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        return None, [
            finding(
                "file-encoding",
                f"byte 0x{raw[exc.start]:02x} at line {line} column {col} is not valid UTF-8",
                "save the file as UTF-8",
            )
        ]
    try:
        data = json.loads(text, object_pairs_hook=_object_hook, parse_constant=_BadConstant)
    except json.JSONDecodeError as exc:
        return None, [
            finding(
                "json-syntax",
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg.removesuffix(' at')}",
                _syntax_hint(exc.msg, text, exc.pos),
            )
        ]
    except RecursionError:
        return None, [_too_deep(display, "$")]
    except ValueError:  # an integer literal with more than 4300 digits
        return None, [
            finding(
                "json-syntax",
                "a number in the file has more than 4300 digits",
                "no config value needs that; write a sensible number, or a string",
            )
        ]

    findings: list[Finding] = []
    data = _clean(data, [], display, findings)
    if findings:
        return None, findings
    if not isinstance(data, dict):
        return None, [
            finding(
                "not-an-object",
                f"the top level is {json_type(data)}, not an object",
                f"wrap the settings in a single JSON object: {example}",
            )
        ]
    return data, findings


def _too_deep(display: str, where: str) -> Finding:
    return Finding(
        display,
        where,
        "json-too-deep",
        f"the JSON nests deeper than {MAX_DEPTH} levels",
        "flatten the structure; no config field nests that deep",
    )


def _clean(value: Any, path: list[str | int], display: str, findings: list[Finding]) -> Any:
    """Turn parser objects into plain dicts and report duplicates, non-finite numbers, depth."""
    # Iterative on purpose: a hostile file must not exhaust the Python stack here either.
    root: list[Any] = [None]
    stack: list[tuple[Any, list[str | int], Any, str | int]] = [(value, path, root, 0)]
    while stack:
        node, where, parent, slot = stack.pop()
        if len(where) > MAX_DEPTH:
            findings.append(_too_deep(display, json_path(where)))
            return None
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and _SURROGATE.search(key):
                    findings.append(
                        Finding(
                            display,
                            json_path(where),
                            "file-encoding",
                            "a key holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)",
                            "remove the escape or write the character itself",
                        )
                    )
            for key in getattr(node, "duplicates", []):
                findings.append(
                    Finding(
                        display,
                        json_path([*where, key]),
                        "json-duplicate-key",
                        f"the key {key!r} appears more than once in the same object; JSON keeps only the last",
                        "remove the duplicates so the file says one thing",
                    )
                )
            out: Any = dict.fromkeys(node)  # keeps the file's key order
            for key, child in node.items():
                stack.append((child, [*where, key], out, key))
        elif isinstance(node, list):
            out = [None] * len(node)
            for index, child in enumerate(node):
                stack.append((child, [*where, index], out, index))
        elif isinstance(node, _BadConstant) or (isinstance(node, float) and not math.isfinite(node)):
            what = (
                f"{node.token} is not a JSON number"
                if isinstance(node, _BadConstant)
                else "the number is too large for a 64-bit float"
            )
            findings.append(
                Finding(
                    display,
                    json_path(where),
                    "json-not-finite",
                    what,
                    "use a finite number, or a string if text was meant",
                )
            )
            out = None
        elif isinstance(node, str) and _SURROGATE.search(node):
            findings.append(
                Finding(
                    display,
                    json_path(where),
                    "file-encoding",
                    "the string holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)",
                    "remove the escape or write the character itself",
                )
            )
            out = None
        else:
            out = node
        parent[slot] = out
    return root[0]


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, with an article: 'an object', 'a string'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
