"""Stack events as deploy and bootstrap stream them to stderr."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from mlops_gitops.aws.cloudformation import StackEvent
from mlops_gitops.report.markdown import one_line


def event_line(stack: str, event: StackEvent) -> str:
    """One line, whatever the event's reason holds (AWS's words, a resource's own message)."""
    line = f"{stack}  {event.timestamp:%H:%M:%S}  {event.logical_id}  {event.status}"
    return one_line(line + (f"  {event.reason}" if event.reason else "")) + "\n"


def event_printer(err: TextIO) -> Callable[[str, StackEvent], None]:
    """An on_event callback that writes each event as one line."""
    return lambda stack, event: err.write(event_line(stack, event))
