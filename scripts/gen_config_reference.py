#!/usr/bin/env python3
"""Write the config reference of the docs from the JSON Schemas' own descriptions.

    python scripts/gen_config_reference.py           # rewrite the generated blocks
    python scripts/gen_config_reference.py --check   # exit 1 if a block is stale

Each target is a Markdown file holding a block between two marker comments; only the block is
rewritten. The schema is the one source: every property, nested ones too, with its JSON path, its
type, what values it allows, its default, the pipeline types that use or require it (from the
schema's ``x-fields`` and ``required`` lists) and its description.

Standalone on purpose (stdlib only, no import of mlops_gitops): the docs can be regenerated, and
checked, without installing the package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python scripts/gen_config_reference.py"


@dataclass(frozen=True)
class Target:
    """One generated block: which schema, which file, which markers."""

    schema: str
    doc: str
    marker: str
    title: str

    @property
    def start(self) -> str:
        return f"<!-- {self.marker}:start -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.marker}:end -->"


TARGETS = (
    Target(
        "pipeline-configs/mlops-config.schema.json",
        "docs/pipeline-authors.md",
        "config-reference",
        "mlops-config.json",
    ),
    Target(
        "pipeline-configs/environments.schema.json",
        "docs/operators.md",
        "environments-reference",
        "environments.json",
    ),
)

JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
}
S3_KINDS = {
    "location": "an S3 location: `s3://bucket/prefix`, or MWO's `bucket/prefix`",
    "asset": "an S3 object or prefix: `s3://bucket/key`, or MWO's key in environments.json's `assets_bucket`",
    "bucket": "an S3 bucket name (S3's naming rules are checked)",
}
SCHEDULES = {
    "cron": "a cron expression with six fields (`cron(minutes hours day-of-month month day-of-week year)`), checked by mlopsctl",
    "cron-or-rate": "an EventBridge `cron(...)` or `rate(...)` expression, checked by mlopsctl",
}
FORMATS = {
    "aws-region": "an AWS region botocore knows (e.g. `us-east-1`)",
    "email-or-sns-arn": "an e-mail address or an SNS topic ARN",
    "ecr-image-uri": "an ECR image URI, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` or `@sha256:<digest>` (no tag: a warning)",
}


# ------------------------------------------------------------------ schema helpers


def resolve(node: Any, root: dict[str, Any]) -> Any:
    """``node`` with its local ``$ref`` followed; the referring node's own keywords win."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported or circular $ref {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def is_stage_map(node: dict[str, Any]) -> bool:
    return bool(node.get("x-stage-map"))


def split_forms(node: dict[str, Any], root: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The value forms of a property (its anyOf/oneOf branches, or itself) and whether one of
    them is the per-stage dict form ``{"<stage>": value}``."""
    branches = node.get("anyOf") or node.get("oneOf")
    if not branches:
        return [node], False
    forms, staged = [], False
    for branch in branches:
        branch = resolve(branch, root)
        if is_stage_map(branch):
            staged = True
        else:
            forms.append(branch)
    return forms, staged


def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def literal(value: Any) -> str:
    return code(json.dumps(value, ensure_ascii=False))


def codes(values: list[Any]) -> str:
    return ", ".join(code(v) for v in values)


# ------------------------------------------------------------------ describing one schema node


def type_text(node: dict[str, Any], root: dict[str, Any]) -> str:
    node = resolve(node, root)
    forms, staged = split_forms(node, root)
    if len(forms) > 1 or forms[0] is not node:
        text = " or ".join(type_text(f, root) for f in forms)
    elif "const" in node:
        text = f"always {literal(node['const'])}"
    else:
        types = node.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if node.get("x-mwo-bool"):
            text = 'boolean (MWO\'s strings `"True"` / `"False"` are accepted)'
        elif node.get("x-mwo-number"):
            text = 'integer (MWO\'s string of digits, e.g. `"2"`, is accepted)'
        elif node.get("x-mwo-json"):
            main = [t for t in types if t != "string"] or ["string"]
            text = " or ".join(_one_type(t, node, root) for t in main)
            text += " (MWO's JSON-string form is accepted)"
        elif types:
            text = " or ".join(_one_type(t, node, root) for t in types)
        elif "enum" in node:
            text = "one of the listed values"
        else:
            text = "any JSON value"
    if staged:
        text += ', or one per stage: `{"<stage>": …}` covering exactly the stages the pipeline deploys to'
    return text


def _one_type(name: str, node: dict[str, Any], root: dict[str, Any]) -> str:
    if name == "array" and isinstance(node.get("items"), dict):
        item = resolve(node["items"], root)
        if item.get("type") == "object" or "properties" in item:
            return "array of objects"
        return f"array of {type_text(item, root)}"
    return JSON_TYPES.get(name, name)


def constraints(node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """What values the node allows beyond its type, one phrase each."""
    node = resolve(node, root)
    out: list[str] = []
    if "enum" in node and not node.get("x-mwo-bool"):
        out.append("one of " + codes(node["enum"]))
    if node.get("pattern") and not node.get("x-mwo-number"):
        out.append("pattern " + code(node["pattern"]))
    out.extend(_bounds(node))
    enum = node.get("x-botocore-enum")
    if enum:
        service = enum.get("service", "sagemaker")
        text = f"a value of botocore's `{service}` shape `{enum['shape']}`"
        by_type: dict[str, list[str]] = {}
        for ptype, shape in (enum.get("by_pipeline_type") or {}).items():
            by_type.setdefault(shape, []).append(ptype)
        for shape, ptypes in by_type.items():
            text += f" (`{shape}` for {codes(ptypes)})"
        if enum.get("allow_empty"):
            text += ", or empty"
        out.append(text)
    if node.get("x-s3") in S3_KINDS:
        out.append(S3_KINDS[node["x-s3"]])
    arn = node.get("x-arn")
    if arn:
        text = f"an ARN of `{arn['service']}` " + " or ".join(f"`{r}`" for r in arn["resources"])
        if arn.get("allow_name"):
            text += ", or a model package group name"
        if arn.get("allow_empty"):
            text += ", or empty"
        out.append(text)
    if node.get("x-schedule") in SCHEDULES:
        out.append(SCHEDULES[node["x-schedule"]])
    if node.get("x-format") in FORMATS:
        out.append(FORMATS[node["x-format"]])
    items = node.get("items")
    if isinstance(items, dict):
        item = resolve(items, root)
        if "properties" not in item:
            inner = constraints(item, root)
            if inner:
                out.append("each item: " + "; ".join(inner))
    for index, item in enumerate(node.get("prefixItems") or [], start=1):
        item = resolve(item, root)
        phrase = "; ".join(constraints(item, root)) or type_text(item, root)
        out.append(f"item {index}: {phrase}")
    names = node.get("propertyNames")
    if isinstance(names, dict):
        inner = constraints(names, root)
        if inner:
            out.append("each key: " + "; ".join(inner))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and not is_stage_map(node):
        value = resolve(extra, root)
        phrase = type_text(value, root)
        inner = constraints(value, root)
        out.append("each value: " + phrase + (" (" + "; ".join(inner) + ")" if inner else ""))
    out.extend(_conditions(node, root))
    return out


def _bounds(node: dict[str, Any]) -> Iterator[str]:
    def span(what: str, low: Any, high: Any, low_op: str = "≥", high_op: str = "≤") -> str | None:
        if low is None and high is None:
            return None
        if low is not None and high is not None and (low_op, high_op) == ("≥", "≤"):
            return f"{what}{low} to {high}"
        parts = ([f"{low_op} {low}"] if low is not None else []) + (
            [f"{high_op} {high}"] if high is not None else []
        )
        return what + " and ".join(parts)

    value = span(
        "",
        node.get("exclusiveMinimum", node.get("minimum")),
        node.get("exclusiveMaximum", node.get("maximum")),
        ">" if "exclusiveMinimum" in node else "≥",
        "<" if "exclusiveMaximum" in node else "≤",
    )
    phrases = [
        value and ("from " + value if " to " in value else value),
        span("length ", node.get("minLength"), node.get("maxLength")),
        span("items ", node.get("minItems"), node.get("maxItems")),
        span("keys ", node.get("minProperties"), node.get("maxProperties")),
    ]
    yield from (p for p in phrases if p)
    if node.get("uniqueItems"):
        yield "no duplicates"


def _conditions(node: dict[str, Any], root: dict[str, Any]) -> Iterator[str]:
    """Plain ``if``/``then`` rules on an object (``allOf`` ones too), as "when X is V: requires …"."""
    rules = [node] + [resolve(r, root) for r in node.get("allOf") or []]
    for rule in rules:
        cond, then = rule.get("if"), rule.get("then")
        if not isinstance(cond, dict) or not isinstance(then, dict):
            continue
        when = [
            f"`{name}` is {literal(spec['const'])}"
            for name, spec in (cond.get("properties") or {}).items()
            if isinstance(spec, dict) and "const" in spec
        ]
        then = resolve(then, root)
        if when and then.get("required"):
            yield f"when {' and '.join(when)}: requires {codes(then['required'])}"


# ------------------------------------------------------------------ walking the schema


@dataclass
class Entry:
    path: str
    depth: int
    node: dict[str, Any]  # the property's own (resolved) schema
    required: bool = False


def children(path: str, node: dict[str, Any], root: dict[str, Any], depth: int) -> Iterator[Entry]:
    """The nested properties of a property's value forms: objects, and arrays of objects."""
    forms, _ = split_forms(resolve(node, root), root)
    for form in forms:
        form = resolve(form, root)
        yield from _properties(path, form, root, depth)
        items = form.get("items")
        if isinstance(items, dict):
            yield from _properties(path + "[*]", resolve(items, root), root, depth)


def _properties(path: str, obj: dict[str, Any], root: dict[str, Any], depth: int) -> Iterator[Entry]:
    required = set(obj.get("required") or [])
    for name, spec in (obj.get("properties") or {}).items():
        child = f"{path}.{name}"
        resolved = resolve(spec, root)
        yield Entry(child, depth, resolved, name in required)
        yield from children(child, resolved, root, depth + 1)


def walk(root: dict[str, Any]) -> Iterator[Entry]:
    required = set(root.get("required") or [])
    for name, spec in (root.get("properties") or {}).items():
        resolved = resolve(spec, root)
        yield Entry(f"$.{name}", 0, resolved, name in required)
        yield from children(f"$.{name}", resolved, root, 1)


# ------------------------------------------------------------------ pipeline types (if/then on pipeline_type)


@dataclass(frozen=True)
class TypeInfo:
    name: str
    description: str
    fields: tuple[str, ...]
    required: tuple[str, ...]


def pipeline_types(root: dict[str, Any]) -> list[TypeInfo]:
    """The per-type rules the schema states as ``allOf: [{if: {pipeline_type: const}, then: …}]``."""
    out = []
    for rule in root.get("allOf") or []:
        cond = (rule.get("if") or {}).get("properties") or {}
        const = (cond.get("pipeline_type") or {}).get("const")
        if const is None or "then" not in rule:
            continue
        then = resolve(rule["then"], root)
        out.append(
            TypeInfo(
                const,
                then.get("description", ""),
                tuple(then.get("x-fields") or ()),
                tuple(then.get("required") or ()),
            )
        )
    return out


# ------------------------------------------------------------------ rendering


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(target: Target, root: dict[str, Any]) -> str:
    types = pipeline_types(root)
    common = list(root.get("x-common-fields") or [])
    lines = [
        f"_Generated from `{target.schema}` by `scripts/gen_config_reference.py`; do not edit by hand. "
        f"After changing the schema run `{COMMAND}` (or `make docs`)._",
        "",
    ]
    if root.get("description"):
        lines += [root["description"], ""]
    if types:
        lines += [
            "### Pipeline types",
            "",
            "| `pipeline_type` | what it deploys | required fields | optional fields |",
            "|---|---|---|---|",
        ]
        for t in types:
            optional = [f for f in t.fields if f not in t.required]
            lines.append(
                f"| `{t.name}` | {cell(t.description)} | {cell(codes(list(t.required)) or '-')} "
                f"| {cell(codes(optional) or '-')} |"
            )
        lines.append("")
        if common:
            lines += [f"Every type also takes the common fields: {codes(common)}.", ""]
    required_by: dict[str, list[str]] = {}
    used_by: dict[str, list[str]] = {}
    for t in types:
        for name in t.required:
            required_by.setdefault(name, []).append(t.name)
        for name in t.fields:
            used_by.setdefault(name, []).append(t.name)
    for entry in walk(root):
        lines += _entry(entry, root, common, required_by, used_by, len(types))
    return "\n".join(lines).rstrip("\n") + "\n"


def _entry(
    entry: Entry,
    root: dict[str, Any],
    common: list[str],
    required_by: dict[str, list[str]],
    used_by: dict[str, list[str]],
    n_types: int,
) -> list[str]:
    node = entry.node
    forms, staged = split_forms(node, root)
    heading = "#" * min(3 + entry.depth, 6)
    lines = [f"{heading} `{entry.path}`", ""]
    description = node.get("description") or next(
        (f.get("description") for f in forms if f.get("description")), ""
    )
    lines += [description or "(No description in the schema.)", ""]
    facts = [f"- **Type:** {type_text(node, root)}"]
    allowed = [c for f in forms for c in constraints(f, root)]
    if len(forms) == 1 and forms[0] is not node:
        allowed = constraints(node, root) or allowed
    if allowed:
        facts.append("- **Allowed:** " + "; ".join(dict.fromkeys(allowed)))
    default = node.get("default", next((f["default"] for f in forms if "default" in f), None))
    if "default" in node or any("default" in f for f in forms):
        facts.append(f"- **Default:** {literal(default)}")
    examples = node.get("examples") or next((f["examples"] for f in forms if f.get("examples")), None)
    if examples:
        facts.append("- **Example:** " + ", ".join(literal(e) for e in examples))
    hints = [h for h in dict.fromkeys([node.get("x-hint"), *(f.get("x-hint") for f in forms)]) if h]
    for hint in hints:
        facts.append(f"- **Hint:** {hint}")
    first_child = next(children(entry.path, node, root, entry.depth + 1), None)
    if staged and first_child is not None:
        example = f"{entry.path}.prod{first_child.path[len(entry.path) :]}"
        facts.append(f"- **Per stage:** the paths below gain the stage's name, e.g. `{example}`")
    if entry.depth == 0:
        name = entry.path[2:]
        if name in required_by:
            facts.append("- **Required by:** " + codes(required_by[name]))
        if name in common:
            facts.append("- **Used by:** every pipeline type")
        elif name in used_by:
            used = used_by[name]
            facts.append("- **Used by:** " + ("every pipeline type" if len(used) == n_types else codes(used)))
        elif entry.required:
            facts.append("- **Required.**")
    elif entry.required:
        facts.append("- **Required** whenever its parent is given.")
    return lines + facts + [""]


def splice(text: str, target: Target, block: str) -> str:
    start, end = text.find(target.start), text.find(target.end)
    if start < 0 or end < start:
        raise SystemExit(f"{target.doc}: markers {target.start} / {target.end} not found (in that order)")
    return text[: start + len(target.start)] + "\n\n" + block + "\n" + text[end:]


def generate(target: Target, root_dir: Path = ROOT) -> tuple[str, str]:
    """(current text, text with the block regenerated) of the target's file."""
    schema = json.loads((root_dir / target.schema).read_text(encoding="utf-8"))
    current = (root_dir / target.doc).read_text(encoding="utf-8")
    return current, splice(current, target, render(target, schema))


def stale(root_dir: Path = ROOT) -> list[Target]:
    """The targets whose generated block differs from what the schema gives now."""
    out = []
    for target in TARGETS:
        current, wanted = generate(target, root_dir)
        if current != wanted:
            out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated block is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    failed = False
    for target in TARGETS:
        current, wanted = generate(target, args.root)
        if current == wanted:
            if not args.check:
                print(f"{target.doc}: the {target.title} reference is up to date")
            continue
        if args.check:
            print(
                f"{target.doc}: the {target.title} reference is stale (the schema changed); "
                f"run `{COMMAND}` (or `make docs`) and commit the result",
                file=sys.stderr,
            )
            failed = True
        else:
            (args.root / target.doc).write_text(wanted, encoding="utf-8")
            print(f"wrote the {target.title} reference into {target.doc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
