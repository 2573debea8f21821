"""MWO's string forms, normalised once before checking: "20" -> 20, "True" -> true, and JSON text
holding an object -> the object. Driven by the schema's x-mwo-* annotations."""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_gitops.config.rules.base import is_stage_map
from mlops_gitops.config.schema import FieldInfo, Schema
from mlops_gitops.findings import Finding, json_path

_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?[0-9]+\.[0-9]+$")


def _refuse_constant(token: str) -> None:
    raise ValueError(f"{token} is not a JSON number")


_BOOLS = {"True": True, "true": True, "False": False, "false": False}


def normalize(config: dict[str, Any], schema: Schema, display: str) -> tuple[dict[str, Any], list[Finding]]:
    findings: list[Finding] = []
    out = dict(config)
    for name, value in config.items():
        info = schema.fields.get(name)
        if info is None or info.coerce is None:
            continue
        if is_stage_map(info, value):
            out[name] = {
                stage: _coerce(info, v, [name, stage], display, findings) for stage, v in value.items()
            }
        else:
            out[name] = _coerce(info, value, [name], display, findings)
    return out, findings


def _coerce(info: FieldInfo, value: Any, path: list, display: str, findings: list[Finding]) -> Any:
    if not isinstance(value, str):
        return value
    kind = info.coerce
    if kind == "number":
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
    elif kind == "bool":
        return _BOOLS.get(value, value)
    elif kind == "json":
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped, parse_constant=_refuse_constant)
            except (ValueError, RecursionError) as exc:
                findings.append(
                    Finding(
                        display,
                        json_path(path),
                        "json-string",
                        f"the string holds invalid JSON ({exc})",
                        "write the value as a JSON object or array, not as a string",
                    )
                )
                return value
        findings.append(
            Finding(
                display,
                json_path(path),
                "type",
                f"{value[:60]!r} is a string, expected {'an array' if 'array' in str(info.scalar.get('type')) else 'an object'}",
                "write it as JSON, not as text",
            )
        )
    return value
