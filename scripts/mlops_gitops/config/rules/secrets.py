"""Plain-text secrets in a config: found, reported without their value, and redacted from every
other finding of the same file (a bucket-name or pattern message would otherwise quote them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlops_gitops.config.rules.base import Context, check
from mlops_gitops.findings import Finding

_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
)
_SECRET_VALUES = [
    (re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"), "a URL with a password in it"),
    (re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\S+"), "an AWS secret access key"),
]
HINT = (
    "never commit secrets: keep them in AWS Secrets Manager and reference the secret's ARN "
    "(e.g. dms_replication.secret_arn), then rotate the exposed credential"
)
REDACTED = "****"


def _is_reference(value: str) -> bool:
    return value.startswith(("arn:", "{{resolve:", "/", "${"))


def _walk(value: Any, path: list) -> Iterator[tuple[list, Any, Any]]:
    """(path, key or None, value) for every value, depth first, without recursion."""
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                yield [*where, k], k, v
                stack.append((v, [*where, k]))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield [*where, i], None, v
                stack.append((v, [*where, i]))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | dict):
        return [v for _, _, v in _walk(value, []) if isinstance(v, str)]
    return []


def find_secrets(config: dict[str, Any]) -> list[tuple[list, str, list[str]]]:
    """(path, what it looks like, the secret fragments) of every plain-text secret."""
    found = []
    for path, key, value in _walk(config, []):
        if isinstance(key, str):
            for pattern, what in _SECRET_VALUES:
                hits = pattern.findall(key)
                if hits:
                    found.append((path, f"the key looks like {what}", hits))
                    break
        if isinstance(value, str):
            for pattern, what in _SECRET_VALUES:
                hits = pattern.findall(value)
                if hits:
                    found.append((path, f"the value looks like {what}", hits))
                    break
            else:
                if isinstance(key, str) and _SECRET_KEY.search(key) and value and not _is_reference(value):
                    found.append((path, f"{key!r} holds what looks like a plain-text secret", [value]))
        elif isinstance(key, str) and _SECRET_KEY.search(key):
            plain = [s for s in _strings(value) if s and not _is_reference(s)]
            if plain:
                found.append((path, f"{key!r} holds what looks like plain-text secrets", plain))
    return found


@check
def secrets(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for path, what, _ in find_secrets(config):
        yield ctx.finding(path, "secret", f"{what} (not shown)", HINT)


def redact(findings: list[Finding], config: dict[str, Any]) -> list[Finding]:
    """Every finding with each secret fragment of ``config`` replaced by ****."""
    if not any(f.code == "secret" for f in findings):
        return findings  # no secret was found, so there is nothing to hide
    # fragments of 1-2 characters can't be told apart from ordinary text; they are not secrets worth the name
    fragments = sorted(
        {f for _, _, frags in find_secrets(config) for f in frags if len(f) >= 3}, key=len, reverse=True
    )
    if not fragments:
        return findings

    def scrub(text: str) -> str:
        for fragment in fragments:
            for form in (fragment, fragment.lower(), repr(fragment)[1:-1]):
                text = text.replace(form, REDACTED)
        return text

    return [
        Finding(f.file, scrub(f.path), f.code, scrub(f.message), scrub(f.hint), f.severity) for f in findings
    ]
