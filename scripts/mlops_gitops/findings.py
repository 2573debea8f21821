"""Finding: one problem in one file at one JSON path, and its text/JSON/JUnit renderings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from xml.sax.saxutils import escape, quoteattr

ERROR = "error"
WARNING = "warning"

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """Render a path of keys and indexes as JSONPath: ``$.a.b[0]``, ``$['odd key']``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part, ensure_ascii=False).replace('"', "'") + "]"
    return out


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    path: str
    code: str
    message: str
    hint: str = ""
    severity: str = field(default=ERROR)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def text(self) -> str:
        body = self.message if self.severity == ERROR else f"{self.severity}: {self.message}"
        if self.hint:
            body += f"; {self.hint}"
        return f"{self.file}: {self.path}: {body}"

    def to_dict(self) -> dict[str, str]:
        d = asdict(self)
        return {k: d[k] for k in ("file", "path", "code", "severity", "message", "hint")}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted by file, then path, then code; exact duplicates removed."""
    return sorted(set(findings), key=lambda f: (f.file, _path_key(f.path), f.code, f.message))


def _path_key(path: str) -> list[tuple[int, int | str]]:
    # "$.a[10]" sorts after "$.a[9]": compare indexes as numbers.
    key: list[tuple[int, int | str]] = []
    for token in re.findall(r"\[(\d+)\]|\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]", path):
        index, name, quoted = token
        key.append((0, int(index)) if index else (1, name or quoted))
    return key


def render_text(findings: Sequence[Finding]) -> str:
    return "".join(f.text() + "\n" for f in findings)


def render_json(findings: Sequence[Finding], checked: int) -> str:
    doc = {"findings": [f.to_dict() for f in findings], "checked": checked}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(findings: Sequence[Finding], checked_files: Sequence[str], suite: str = "mlopsctl") -> str:
    """JUnit XML for CodeBuild test reports: one test case per checked file, a failure per error."""
    by_file: dict[str, list[Finding]] = {name: [] for name in checked_files}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    failures = sum(1 for items in by_file.values() if any(f.is_error for f in items))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={quoteattr(suite)} tests="{len(by_file)}" failures="{failures}">',
        f'  <testsuite name={quoteattr(suite)} tests="{len(by_file)}" failures="{failures}" errors="0">',
    ]
    for name in sorted(by_file):
        items = by_file[name]
        lines.append(f"    <testcase classname={quoteattr(suite)} name={quoteattr(name)}>")
        errors = [f for f in items if f.is_error]
        if errors:
            summary = f"{len(errors)} finding(s)"
            body = escape("\n".join(f.text() for f in errors))
            lines.append(f'      <failure message={quoteattr(summary)} type="invalid">{body}</failure>')
        warnings = [f for f in items if not f.is_error]
        if warnings:
            lines.append(f"      <system-out>{escape(chr(10).join(f.text() for f in warnings))}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
