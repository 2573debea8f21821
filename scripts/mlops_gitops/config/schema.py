"""The JSON Schemas of mlops-config.json and environments.json, and what we read out of them.

The schema file is the one declarative place for fields: their types and ranges (standard JSON
Schema, which editors understand) plus a few ``x-`` annotations that only mlopsctl reads:

* ``x-stageable``: the field takes one value or an object keyed by stage name;
* ``x-mwo-number`` / ``x-mwo-bool`` / ``x-mwo-json``: MWO's string forms ("20", "True", a JSON
  string holding an object) are accepted and normalised before checking;
* ``x-botocore-enum``, ``x-s3``, ``x-arn``, ``x-schedule``, ``x-format``: semantic checks run as
  custom keywords (see ``keywords.py``), at the exact place in the document where they apply;
* ``x-fields`` (per pipeline type) and ``x-common-fields``: which keys each type uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import extend

from mlops_gitops.config import keywords

CONFIG_SCHEMA = "mlops-config.schema.json"
ENVIRONMENTS_SCHEMA = "environments.schema.json"

Validator = extend(
    Draft202012Validator,
    {
        "pattern": keywords.pattern,  # ECMA-262 semantics, not Python's re.search
        "x-botocore-enum": keywords.botocore_enum,
        "x-s3": keywords.s3,
        "x-arn": keywords.arn,
        "x-schedule": keywords.schedule,
        "x-format": keywords.fmt,
    },
)


@dataclass(frozen=True)
class FieldInfo:
    name: str
    schema: dict[str, Any]  # the field's own schema (with description, default...)
    scalar: dict[str, Any]  # the schema of one value, $refs resolved one level
    stageable: bool

    @property
    def coerce(self) -> str | None:
        for kind in ("number", "bool", "json"):
            if self.scalar.get(f"x-mwo-{kind}") or self.schema.get(f"x-mwo-{kind}"):
                return kind
        return None

    @property
    def scalar_is_object(self) -> bool:
        t = self.scalar.get("type")
        return t == "object" or (isinstance(t, list) and "object" in t)

    @property
    def description(self) -> str:
        return self.schema.get("description") or self.scalar.get("description") or ""


@dataclass(frozen=True)
class TypeInfo:
    name: str
    description: str
    required: tuple[str, ...]
    fields: frozenset[str]  # every key this pipeline type uses, common keys included


class Schema:
    """A loaded schema with its validator and the field/type tables derived from it."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.validator = Validator(raw)
        self._typed: dict[str, Any] = {}
        self.fields: dict[str, FieldInfo] = {
            name: self._field(name, spec) for name, spec in raw.get("properties", {}).items()
        }
        common = raw.get("x-common-fields", [])
        self.types: dict[str, TypeInfo] = {}
        enum = raw.get("properties", {}).get("pipeline_type", {}).get("enum", [])
        for name in enum:
            spec = raw["$defs"][f"type_{name}"]
            self.types[name] = TypeInfo(
                name,
                spec.get("description", ""),
                tuple(spec.get("required", [])),
                frozenset([*common, *spec.get("x-fields", [])]),
            )

    def validator_for(self, pipeline_type: Any) -> Any:
        """A validator that checks one pipeline type's rules directly: the same errors as the full
        schema (whose allOf tries every type's `if`), without evaluating fifteen conditions."""
        if not isinstance(pipeline_type, str) or pipeline_type not in self.types:
            return self.validator
        if pipeline_type not in self._typed:
            narrowed = {**self.raw, "allOf": [{"$ref": f"#/$defs/type_{pipeline_type}"}]}
            self._typed[pipeline_type] = Validator(narrowed)
        return self._typed[pipeline_type]

    def resolve(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Follow local ``$ref``s, merging sibling keywords over the target (one level at a time)."""
        seen = 0
        while "$ref" in spec and seen < 10:
            target = self._pointer(spec["$ref"])
            spec = {**target, **{k: v for k, v in spec.items() if k != "$ref"}}
            seen += 1
        return spec

    def _pointer(self, ref: str) -> dict[str, Any]:
        node: Any = self.raw
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def _field(self, name: str, spec: dict[str, Any]) -> FieldInfo:
        stageable = bool(spec.get("x-stageable"))
        scalar = self.resolve(spec["anyOf"][0]) if stageable else self.resolve(spec)
        return FieldInfo(name, spec, scalar, stageable)


@cache
def _load(path: str, mtime_ns: int) -> Schema:
    del mtime_ns  # part of the cache key only: an edited schema is reloaded
    return Schema(json.loads(Path(path).read_text(encoding="utf-8")))


def load_schema(path: Path) -> Schema:
    return _load(str(path), path.stat().st_mtime_ns)
