"""Finding: one problem in one file at one JSON path, and its text/JSON/JUnit renderings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

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
    # the pipeline (folder under pipeline-configs/) the finding is about; None for repository-wide
    # files (environments.json, templates). Set where the finding is made, never parsed from `file`.
    pipeline_id: str | None = field(default=None, compare=False)

    def of_pipeline(self, pipeline_id: str | None) -> Finding:
        """This finding, attributed to ``pipeline_id`` (unless it already names one)."""
        return self if self.pipeline_id or pipeline_id is None else replace(self, pipeline_id=pipeline_id)

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
