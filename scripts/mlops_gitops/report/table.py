"""The plain-text table every report prints: columns padded to their widest cell, the last column
left free (it holds sentences), trailing spaces trimmed."""

from __future__ import annotations

from collections.abc import Sequence

from mlops_gitops.report.markdown import one_line


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) as lines, each ending in a newline. Cells hold names and
    AWS's words (status reasons): each is put on one line, its control characters replaced."""
    if not rows:
        return ""
    rows = [[one_line(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "".join(line.rstrip() + "\n" for line in lines)
