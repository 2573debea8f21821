"""Turn jsonschema ValidationErrors into precise, actionable Findings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import ValidationError

from mlops_gitops.config.jsonfile import json_type
from mlops_gitops.findings import Finding, json_path
from mlops_gitops.suggest import did_you_mean, one_of

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_MWO_FORMS = ("x-mwo-number", "x-mwo-bool", "x-mwo-json")

# Codes that only say "the schema refused this value". When a more precise finding exists for
# the same path (a type error, a did-you-mean from a semantic check...), they are noise.
GENERIC = frozenset({"pattern", "enum", "length", "const"})


def to_findings(
    errors: Iterable[ValidationError], display: str, field_docs: dict[str, Any] | None = None
) -> list[Finding]:
    """Findings for jsonschema errors. ``field_docs`` (the root schema's properties) explains
    top-level keys wherever an error's own schema can't (e.g. required keys of a pipeline type)."""
    docs = field_docs or {}
    return [f for error in errors for f in _convert(error, display, docs)]


def prune(findings: list[Finding]) -> list[Finding]:
    """One mistake, one finding: drop generic schema findings shadowed by a precise error (a
    warning never hides an error)."""
    precise = {(f.file, f.path) for f in findings if f.code not in GENERIC and f.is_error}
    return [f for f in findings if f.code not in GENERIC or (f.file, f.path) not in precise]


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?(?<!e\.g)(?<!i\.e)[.;])(\s|$)", text.strip())
    return (m.group(1) if m else text.strip()).rstrip(".;")


def _about(schema: dict[str, Any]) -> str:
    """What a value should be, from the schema's hint, description and examples."""
    if schema.get("x-hint"):
        return schema["x-hint"]
    parts = []
    if schema.get("description"):
        parts.append(_first_sentence(schema["description"]))
    if schema.get("examples"):
        parts.append(f"e.g. {json.dumps(schema['examples'][0], ensure_ascii=False)}")
    return ", ".join(parts)


def _type_names(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    names = [t] if isinstance(t, str) else list(t or [])
    # MWO's strings for numbers, flags and objects are accepted, not what we ask people to write.
    if "string" in names and any(k in schema for k in _MWO_FORMS):
        names.remove("string")
    return names


def _expected_types(schema: dict[str, Any]) -> str:
    if schema.get("x-stage-map"):
        return "an object keyed by stage name"
    return " or ".join(_TYPE_NAMES.get(n, n) for n in _type_names(schema))


def _short(value: Any) -> str:
    """A value as a message quotes it: strings in single quotes, the rest as JSON."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _range(schema: dict[str, Any]) -> str:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo_word = "above" if "exclusiveMinimum" in schema else "at least"
    hi_word = "below" if "exclusiveMaximum" in schema else "at most"
    if lo is not None and hi is not None:
        return f"use a value {lo_word} {lo} and {hi_word} {hi}"
    if lo is not None:
        return f"use a value {lo_word} {lo}"
    return f"use a value {hi_word} {hi}"


def _finding(
    error: ValidationError, display: str, path: list, code: str, message: str, hint: str = ""
) -> Finding:
    return Finding(display, json_path(path), code, message, hint, getattr(error, "severity", "error"))


def _convert(error: ValidationError, display: str, docs: dict[str, Any]) -> Iterator[Finding]:
    path = list(error.absolute_path)
    kw = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    inst = error.instance

    if "propertyNames" in error.relative_schema_path and isinstance(inst, str):
        # an object key broke a rule: point at the key itself
        yield _finding(
            error, display, [*path, inst], "key", f"key {_short(inst)} is not allowed", _about(schema)
        )
    elif hasattr(error, "code"):  # our own keywords carry code and hint already
        yield _finding(error, display, path, error.code, error.message, error.hint)
    elif kw in ("anyOf", "oneOf"):
        yield from _best_branch(error, display, docs)
    elif kw == "additionalProperties" and isinstance(inst, dict):
        known = list(schema.get("properties", {}))
        for key in inst:
            if key not in known:
                fallback = "remove it; " + one_of(known, limit=8).replace("use one of", "known keys here are")
                yield _finding(
                    error,
                    display,
                    [*path, key],
                    "unknown-key",
                    f"unknown key {key!r}",
                    did_you_mean(key, known, fallback),
                )
    elif kw == "required" and isinstance(inst, dict):
        props = schema.get("properties", {})
        for key in error.validator_value:
            if key not in inst:
                about = _about(props.get(key) or (docs.get(key, {}) if not path else {}))
                yield _finding(
                    error,
                    display,
                    [*path, key],
                    "required",
                    f"required key {key!r} is missing",
                    "add it" + (f": {about}" if about else ""),
                )
    elif kw == "type":
        yield _type_finding(error, display, path, schema, inst)
    elif kw == "enum":
        if "x-mwo-bool" in schema:
            yield _finding(
                error, display, path, "enum", f"{_short(inst)} is not true or false", "write true or false"
            )
        else:
            strings = [v for v in error.validator_value if isinstance(v, str)]
            fallback = one_of(error.validator_value)
            hint = did_you_mean(inst, strings, fallback) if isinstance(inst, str) else fallback
            yield _finding(error, display, path, "enum", f"{_short(inst)} is not an allowed value", hint)
    elif kw == "const":
        yield _finding(
            error,
            display,
            path,
            "enum",
            f"{_short(inst)} is not allowed here",
            f"use {error.validator_value!r}",
        )
    elif kw == "pattern":
        if "x-mwo-number" in schema:
            bounds = _range(schema) if ("minimum" in schema or "maximum" in schema) else ""
            yield _finding(
                error,
                display,
                path,
                "type",
                f"{_short(inst)} is not a number",
                "write a number" + (f": {bounds}" if bounds else ""),
            )
        else:
            yield _finding(
                error,
                display,
                path,
                "pattern",
                f"{_short(inst)} does not have the expected form",
                _about(schema) or f"it must match {error.validator_value}",
            )
    elif kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        yield _finding(error, display, path, "range", f"{_short(inst)} is out of range", _range(schema))
    elif kw in ("minLength", "maxLength"):
        n = len(inst) if isinstance(inst, str) else 0
        what = "is empty" if n == 0 else f"is too {'short' if kw == 'minLength' else 'long'} ({n} characters)"
        bound = (
            f"at least {error.validator_value}" if kw == "minLength" else f"at most {error.validator_value}"
        )
        yield _finding(error, display, path, "length", f"{_short(inst)} {what}", f"use {bound} characters")
    elif kw in ("minItems", "maxItems", "minProperties", "maxProperties"):
        count = len(inst) if isinstance(inst, list | dict) else 0
        things = "items" if "Items" in kw else "keys"
        bound = "at least" if kw.startswith("min") else "at most"
        yield _finding(
            error,
            display,
            path,
            "size",
            f"has {count} {things}",
            f"give {bound} {error.validator_value} {things}",
        )
    elif kw == "uniqueItems":
        yield _finding(error, display, path, "duplicate", "has duplicate items", "list each item once")
    elif kw == "false":
        yield _finding(error, display, path, "unknown-key", "no value is allowed here", "remove it")
    else:
        yield _finding(error, display, path, kw or "schema", error.message, _about(schema))


def _type_finding(
    error: ValidationError, display: str, path: list, schema: dict[str, Any], inst: Any
) -> Finding:
    hint = _about(schema)
    # "put it in quotes" only where any string is welcome (not enums, not MWO's special strings)
    quotable = "string" in _type_names(schema) and "enum" not in schema
    if isinstance(inst, int | float) and not isinstance(inst, bool) and quotable:
        hint = f'put it in quotes: "{inst}"' + (f"; {hint}" if hint else "")
    what = "the value is null" if inst is None else f"{_short(inst)} is {json_type(inst)}"
    return _finding(
        error,
        display,
        path,
        "type",
        f"{what}, expected {_expected_types(schema) or error.validator_value}",
        hint,
    )


def _best_branch(error: ValidationError, display: str, docs: dict[str, Any]) -> Iterator[Finding]:
    """For anyOf/oneOf, report the errors of the branch the author evidently meant."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def root_type_mismatch(errs: list[ValidationError]) -> bool:
        return any(e.validator == "type" and not e.relative_path for e in errs)

    def no_known_key(errs: list[ValidationError]) -> bool:
        """The object has none of this branch's keys (a stage map read as the field's own object, whose
        keys are all optional): the author meant another branch when one is as close."""
        return any(
            e.validator == "additionalProperties"
            and not e.relative_path
            and isinstance(e.instance, dict)
            and isinstance(e.schema, dict)
            and not any(k in e.schema.get("properties", {}) for k in e.instance)
            for e in errs
        )

    candidates = {i: errs for i, errs in branches.items() if not root_type_mismatch(errs)}
    if candidates:
        best = min(candidates, key=lambda i: (len(candidates[i]), no_known_key(candidates[i]), i))
        yield from (f for sub in candidates[best] for f in _convert(sub, display, docs))
        return
    types = sorted(
        {_expected_types(e.schema) for errs in branches.values() for e in errs if e.validator == "type"}
    )
    inst = error.instance
    what = "the value is null" if inst is None else f"{_short(inst)} is {json_type(inst)}"
    schema = error.schema if isinstance(error.schema, dict) else {}
    yield _finding(
        error,
        display,
        list(error.absolute_path),
        "type",
        f"{what}, expected {' or '.join(t for t in types if t)}",
        _about(schema),
    )
