"""Findings as text (one line each), JSON, and JUnit XML for CodeBuild's test reports."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from mlops_gitops.findings import Finding
from mlops_gitops.report.markdown import one_line

# What XML 1.0 does not allow in a document, even as a character reference: C0 controls other than
# tab, newline and carriage return, lone surrogates, and U+FFFE / U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(value: str) -> str:
    """The value with what XML 1.0 forbids replaced by U+FFFD (escape and quoteattr don't)."""
    return _NOT_XML.sub("\ufffd", value)


def _attr(value: str) -> str:
    return quoteattr(_xml(value))  # also encodes tab, newline and carriage return


def _body(value: str) -> str:
    return escape(_xml(value), {"\r": "&#13;"})


def render_text(findings: Sequence[Finding]) -> str:
    """One line per finding, whatever a file name or message holds: line breaks and control
    characters (a terminal's escape sequences) replaced, and lone surrogates (a file name that is
    not UTF-8), which no UTF-8 output can write."""
    return "".join(one_line(f.text()) + "\n" for f in findings)


def render_json(findings: Sequence[Finding], checked: int) -> str:
    doc = {"findings": [_json_safe(f.to_dict()) for f in findings], "checked": checked}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_safe(value: object) -> object:
    """Strings without lone surrogates (json escapes control characters itself)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def render_junit(findings: Sequence[Finding], checked_files: Sequence[str], suite: str = "mlopsctl") -> str:
    """JUnit XML for CodeBuild test reports: one test case per checked file, a failure per error."""
    by_file: dict[str, list[Finding]] = {name: [] for name in checked_files}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    failures = sum(1 for items in by_file.values() if any(f.is_error for f in items))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={_attr(suite)} tests="{len(by_file)}" failures="{failures}">',
        f'  <testsuite name={_attr(suite)} tests="{len(by_file)}" failures="{failures}" errors="0">',
    ]
    for name in sorted(by_file):
        items = by_file[name]
        lines.append(f"    <testcase classname={_attr(suite)} name={_attr(name)}>")
        errors = [f for f in items if f.is_error]
        if errors:
            summary = f"{len(errors)} finding(s)"
            body = _body("\n".join(f.text() for f in errors))
            lines.append(f'      <failure message={_attr(summary)} type="invalid">{body}</failure>')
        warnings = [f for f in items if not f.is_error]
        if warnings:
            lines.append(f"      <system-out>{_body(chr(10).join(f.text() for f in warnings))}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
