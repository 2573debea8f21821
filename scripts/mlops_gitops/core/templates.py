"""CloudFormation templates of pipeline kinds: which template serves a pipeline_type, and what
parameters it declares. Reads YAML with CloudFormation's short tags without importing cfn-lint."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlops_gitops.errors import RepoError

PIPELINES_DIR = Path("cloudformation") / "pipelines"
MAPPING_FILE = "pipeline-types.json"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster
    """SafeLoader that keeps !Ref, !Sub, ... as {"Ref": ...} / {"Fn::Sub": ...} dicts."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {("Ref" if suffix == "Ref" else f"Fn::{suffix}"): value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Template:
    path: Path  # absolute
    relpath: str  # repository-relative, posix
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def body(self) -> dict[str, Any]:
        return _parse(self.text)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters") or {}


@cache
def _parse(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@cache
def _mapping(root: str) -> dict[str, Any]:
    path = Path(root) / PIPELINES_DIR / MAPPING_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RepoError(f"cannot read {PIPELINES_DIR / MAPPING_FILE}: {exc}") from exc


def template_name(root: Path, pipeline_type: str) -> str | None:
    """The template file serving ``pipeline_type``, or None while it is pending."""
    for name, types in _mapping(str(root))["templates"].items():
        if pipeline_type in types:
            return name
    return None


def pending_reason(root: Path, pipeline_type: str) -> str | None:
    return _mapping(str(root)).get("pending", {}).get(pipeline_type)


def mapping(root: Path) -> dict[str, Any]:
    return _mapping(str(root))


TEMPLATE_MAX = 1_000_000  # bytes; CloudFormation refuses larger templates even from S3


def load_template(root: Path, name: str) -> Template:
    """The template ``name`` of cloudformation/pipelines/, read only when it is a regular file of
    that folder: pipeline-types.json comes from the repository (a pull request's, in pr-check), so a
    name with a path in it, or a link out of the repository, is refused rather than followed."""
    relpath = (PIPELINES_DIR / name).as_posix()
    folder = (root / PIPELINES_DIR).resolve()
    path = root / PIPELINES_DIR / name
    if Path(name).name != name or not name.endswith((".yaml", ".yml")):
        raise RepoError(
            f"{PIPELINES_DIR / MAPPING_FILE}: template {name!r} is not a .yaml file name of {PIPELINES_DIR}/"
        )
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except (OSError, RuntimeError) as exc:
        raise RepoError(f"{relpath}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from exc
    if resolved.parent != folder or not stat.S_ISREG(info.st_mode):
        raise RepoError(
            f"{relpath}: not a regular file inside {PIPELINES_DIR}/ (a link out, or not a file); not read"
        )
    if info.st_size > TEMPLATE_MAX:
        raise RepoError(f"{relpath}: {info.st_size:,} bytes, over CloudFormation's {TEMPLATE_MAX:,}")
    return Template(path, relpath, resolved.read_text(encoding="utf-8"))
