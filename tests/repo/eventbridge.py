"""EventBridge, as far as the notify rules' tests need it: does a rule's pattern match an event
(moto's implementation of EventBridge's pattern matching), and what does an input transformer make
of the event (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html):
each ``<key>`` of the InputTemplate replaced by the value at its InputPathsMap JSON path (dot notation,
array indices). String values go in as they are: "EventBridge doesn't escape values extracted by Input
Path, when populating the Input Template for a target" (the page's Common Issues), so a value with a
quote, a backslash or a newline inside a quoted template makes invalid JSON, which fails here. A
quoted template gives the message text, returned here."""

from __future__ import annotations

import json
import re
from typing import Any

from moto.events.models import EventPattern

_KEY = re.compile(r"^[A-Za-z0-9_]+$")  # InputPathsMap keys: alphanumerics and underscores
_STEP = re.compile(r"^([^.\[\]]+)((?:\[\d+\])*)$")


def matches(pattern: dict, event: dict) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def _at(event: dict, path: str) -> Any:
    assert path.startswith("$."), f"{path}: EventBridge paths start with $."
    value: Any = event
    for step in path[2:].split("."):
        m = _STEP.match(step)
        assert m, f"{path}: {step!r} is not dot notation"
        value = value[m.group(1)]
        for index in re.findall(r"\[(\d+)\]", m.group(2)):
            value = value[int(index)]
    return value


def transform(transformer: dict, event: dict) -> str:
    """The message an SNS target gets: the filled template, read as the JSON string it must be."""
    paths = transformer.get("InputPathsMap", {})
    assert len(paths) <= 100, "at most 100 InputPathsMap entries"
    template = transformer["InputTemplate"]
    assert len(template) <= 8192, "InputTemplate is at most 8192 characters"
    for key in paths:
        assert _KEY.match(key) and not key.startswith("aws."), f"{key}: not an InputPathsMap key"
    assert set(re.findall(r"<([A-Za-z0-9_.-]+)>", template)) <= set(paths), "an undefined <key>"

    def fill(m: re.Match) -> str:
        value = _at(event, paths[m.group(1)])
        return value if isinstance(value, str) else json.dumps(value)  # unescaped, as EventBridge does

    filled = re.sub(r"<([A-Za-z0-9_]+)>", fill, template)
    try:
        text = json.loads(filled)
    except ValueError as exc:
        raise AssertionError(f"the filled template is not valid JSON ({exc}): {filled!r}") from exc
    assert isinstance(text, str), "a plain-text message: the template is one quoted JSON string"
    return text
