"""Drift reports as a table (one line per finding) or JSON, and the exit code they mean."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mlops_gitops.errors import ExitCode
from mlops_gitops.report.table import table

if TYPE_CHECKING:
    from mlops_gitops.ops.drift import StackDrift

_TEXT_VALUE_MAX = 120


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def drifted(reports: Iterable[StackDrift]) -> bool:
    return any(r.drifted for r in reports)


def exit_code(reports: Iterable[StackDrift]) -> int:
    """1 on any drift. Not-checked items alone exit 0: they are gaps to know about (and listed),
    not changes someone made; failing on them would fail every stage with an unsupported type."""
    return ExitCode.FINDINGS if drifted(reports) else ExitCode.OK


def summary_line(reports: list[StackDrift]) -> str:
    if not reports:
        return "drift: no deployed stacks of ours to check"
    states = [r.state for r in reports]
    unchecked = sum(1 for r in reports for i in r.items if i.kind == "not-checked" and i.logical_id)
    line = (
        f"drift: {_plural(states.count('drifted'), 'stack')} drifted, "
        f"{_plural(unchecked, 'resource')} not checked, {states.count('in-sync')} in sync"
    )
    if states.count("not-checked"):
        line += f", {_plural(states.count('not-checked'), 'stack')} not checked"
    known = sum(1 for r in reports if r.detection == "last-known")
    if known:  # --no-detect: what the stack listing says of the last detection
        line += f" ({known} as last detected, not detected again)"
    return line


def drift_text(reports: list[StackDrift]) -> str:
    """A table, one line per finding (one per property difference), then the summary line."""
    header = ("STAGE", "STACK", "RESOURCE", "TYPE", "KIND", "DETAIL")
    rows = [header]
    for report in reports:
        for i in report.items:
            base = (i.stage, i.stack, i.logical_id or "-", i.resource_type, i.kind)
            if i.differences:
                rows += [(*base, d.describe(_TEXT_VALUE_MAX)) for d in i.differences]
            else:
                rows.append((*base, shorten(i.detail, None)))
    if len(rows) == 1:
        return summary_line(reports) + "\n"
    return table(rows) + summary_line(reports) + "\n"


def drift_json(reports: list[StackDrift]) -> str:
    return (
        json.dumps({"stacks": [r.to_dict() for r in reports], "drifted": drifted(reports)}, indent=2) + "\n"
    )


def shorten(value: str, limit: int | None) -> str:
    value = " ".join(str(value).split())
    if limit is not None and len(value) > limit:
        return value[: limit - 3] + "..."
    return value
