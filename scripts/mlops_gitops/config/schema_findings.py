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


def to_findings(
    errors: Iterable[ValidationError], display: str, preferred_keys: Iterable[str] = ()
) -> list[Finding]:
    preferred = list(preferred_keys)
    out: list[Finding] = []
    for error in errors:
        out.extend(_convert(error, display, preferred))
    return out


def _first_sentence(text: str) -> str:
    text = text.strip()
    m = re.match(r"(.+?[.;])(\s|$)", text)
    sentence = m.group(1) if m else text
    return sentence.rstrip(".;")


def _about(schema: dict[str, Any]) -> str:
    """What a value should be, from the schema's description and examples, for hints."""
    parts = []
    if schema.get("x-hint"):
        return schema["x-hint"]
    if schema.get("description"):
        parts.append(_first_sentence(schema["description"]))
    if schema.get("examples"):
        parts.append(f"e.g. {json.dumps(schema['examples'][0], ensure_ascii=False)}")
    return ", ".join(parts)


def _expected_types(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    names = [t] if isinstance(t, str) else list(t or [])
    # MWO's numbers-as-strings are an accepted form, not what we ask people to write.
    if "string" in names and ("x-mwo-number" in schema or "x-mwo-bool" in schema or "x-mwo-json" in schema):
        names.remove("string")
    return " or ".join(_TYPE_NAMES.get(n, n) for n in names)


def _finding(
    error: ValidationError, display: str, path: list, code: str, message: str, hint: str = ""
) -> Finding:
    severity = getattr(error, "severity", "error")
    return Finding(display, json_path(path), code, message, hint, severity)


def _convert(error: ValidationError, display: str, preferred: list[str]) -> Iterator[Finding]:
    path = list(error.absolute_path)
    kw = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    inst = error.instance

    if "propertyNames" in error.relative_schema_path and isinstance(inst, str):
        # an object key broke a rule: point at the key itself
        yield _finding(
            error, display, [*path, inst], "key", f"key {_short(inst)} is not allowed", _about(schema)
        )
        return
    if hasattr(error, "code"):  # our own keywords carry code and hint already
        yield _finding(error, display, path, error.code, error.message, error.hint)
        return
    if kw in ("anyOf", "oneOf"):
        yield from _best_branch(error, display, preferred)
        return
    if kw == "additionalProperties" and isinstance(inst, dict):
        known = list(schema.get("properties", {}))
        candidates = preferred if not path and preferred else known
        for key in inst:
            if key in known:
                continue
            hint = did_you_mean(key, candidates) or did_you_mean(key, known)
            if not hint:
                hint = "remove it; " + one_of(candidates, limit=8).replace(
                    "use one of", "known keys here are"
                )
            yield _finding(error, display, [*path, key], "unknown-key", f"unknown key {key!r}", hint)
        return
    if kw == "required" and isinstance(inst, dict):
        props = schema.get("properties", {})
        for key in error.validator_value:
            if key not in inst:
                spec = props.get(key, {})
                hint = "add it" + (f": {_about(spec)}" if _about(spec) else "")
                yield _finding(
                    error, display, [*path, key], "required", f"required key {key!r} is missing", hint
                )
        return
    if kw == "type":
        expected = _expected_types(schema) or str(error.validator_value)
        hint = _about(schema)
        if (
            isinstance(inst, int | float)
            and not isinstance(inst, bool)
            and "string" in str(error.validator_value)
        ):
            hint = f'put it in quotes: "{inst}"' + (f"; {hint}" if hint else "")
        yield _finding(
            error, display, path, "type", f"{_short(inst)} is {json_type(inst)}, expected {expected}", hint
        )
        return
    if kw == "enum":
        values = error.validator_value
        if "x-mwo-bool" in schema:
            yield _finding(
                error, display, path, "enum", f"{_short(inst)} is not true or false", "write true or false"
            )
            return
        strings = [v for v in values if isinstance(v, str)]
        hint = did_you_mean(str(inst), strings, one_of(values)) if isinstance(inst, str) else one_of(values)
        yield _finding(error, display, path, "enum", f"{_short(inst)} is not an allowed value", hint)
        return
    if kw == "const":
        yield _finding(
            error,
            display,
            path,
            "enum",
            f"{_short(inst)} is not allowed here",
            f"use {error.validator_value!r}",
        )
        return
    if kw == "pattern":
        if "x-mwo-number" in schema:
            yield _finding(
                error, display, path, "type", f"{_short(inst)} is not a number", "write a number, e.g. 20"
            )
        else:
            hint = _about(schema) or f"it must match {error.validator_value}"
            yield _finding(
                error, display, path, "pattern", f"{_short(inst)} does not have the expected form", hint
            )
        return
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        yield _finding(error, display, path, "range", f"{_short(inst)} is out of range", _range(schema))
        return
    if kw in ("minLength", "maxLength"):
        n = len(inst) if isinstance(inst, str) else 0
        limit = error.validator_value
        what = "short" if kw == "minLength" else "long"
        bound = f"at least {limit}" if kw == "minLength" else f"at most {limit}"
        msg = "is empty" if n == 0 else f"is too {what} ({n} characters)"
        yield _finding(error, display, path, "length", f"{_short(inst)} {msg}", f"use {bound} characters")
        return
    if kw in ("minItems", "maxItems", "minProperties", "maxProperties"):
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
        return
    if kw == "uniqueItems":
        yield _finding(error, display, path, "duplicate", "has duplicate items", "list each item once")
        return
    if kw == "false":
        yield _finding(error, display, path, "unknown-key", "no value is allowed here", "remove it")
        return
    yield _finding(error, display, path, kw or "schema", error.message, _about(schema))


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


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, bool) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _best_branch(error: ValidationError, display: str, preferred: list[str]) -> Iterator[Finding]:
    """For anyOf/oneOf, report the errors of the branch the author evidently meant."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def root_type_mismatch(errs: list[ValidationError]) -> bool:
        return any(e.validator == "type" and not e.relative_path for e in errs)

    candidates = {i: errs for i, errs in branches.items() if not root_type_mismatch(errs)}
    if not candidates:
        types = sorted(
            {_expected_types(e.schema) for errs in branches.values() for e in errs if e.validator == "type"}
        )
        inst = error.instance
        schema = error.schema if isinstance(error.schema, dict) else {}
        yield _finding(
            error,
            display,
            list(error.absolute_path),
            "type",
            f"{_short(inst)} is {json_type(inst)}, expected {' or '.join(t for t in types if t)}",
            _about(schema),
        )
        return
    best = min(candidates, key=lambda i: (len(candidates[i]), i))
    yield from (f for sub in candidates[best] for f in _convert(sub, display, preferred))
