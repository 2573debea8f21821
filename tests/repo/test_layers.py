"""The package's shape, enforced: layers depend downward only, no module imports another that
(directly or through others) imports it back, and only aws/ talks to boto3/botocore.

Imports inside functions count: a cycle hidden in a function is still a cycle for the reader
following an argument down. `TYPE_CHECKING` blocks are left out (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "scripts" / "mlops_gitops"

# Lower numbers sit lower. A module may import its own layer (no cycles) or a lower one.
LAYERS = {
    "leaf": 0,  # errors, defaults, findings, repo, names, suggest, awsdata, images, jsonedit, lambdas
    "aws": 1,
    "config": 2,
    "core": 3,
    "report": 4,
    "ops": 5,
    "local": 6,
    "cli": 7,
    "__main__": 8,
}
# Only these may import boto3/botocore: the gateways, the code that runs inside Lambda, and
# awsdata, which reads botocore's bundled service models (botocore.loaders, lazily).
BOTO_ALLOWED = ("aws", "lambdas", "awsdata")
BOTO = ("boto3", "botocore")


# Lambda functions that run the package's workflows are the top of their own program, as the CLI
# is of its own; the other functions in lambdas/ are standalone (standard library and boto3).
ENTRY_POINTS = {"mlops_gitops.lambdas.provisioning_api": "cli"}


def _layer(module: str) -> str:
    if module in ENTRY_POINTS:
        return ENTRY_POINTS[module]
    part = module.split(".")[1] if "." in module else ""
    return part if part in LAYERS else "leaf"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


class _Imports(ast.NodeVisitor):
    """Every import of a module, at any depth, except under `if TYPE_CHECKING:`."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package, self.found = module, is_package, []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(a.name, None) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = self.module if self.is_package else self.module.rsplit(".", 1)[0]
            for _ in range(node.level - 1):
                package = package.rsplit(".", 1)[0]
            base = f"{package}.{base}" if base else package
        self.found += [(base, a.name) for a in node.names]


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> the package modules it imports, module -> external top-level names)."""
    modules = _modules()
    internal: dict[str, set[str]] = {}
    external: dict[str, set[str]] = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        internal[name], external[name] = set(), set()
        for base, member in visitor.found:
            if base.split(".")[0] != "mlops_gitops":
                external[name].add(base.split(".")[0])
                continue
            target = f"{base}.{member}" if member and f"{base}.{member}" in modules else base
            if target in modules and target != name:
                internal[name].add(target)
    return internal, external


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _is_parent_package(importer: str, target: str) -> bool:
    """`from mlops_gitops.cli.options import X` runs cli/__init__ first, but that is Python's
    package machinery, not a dependency the reader follows: such edges are not counted."""
    return importer.startswith(target + ".")


def test_no_import_cycles() -> None:
    internal, _ = _graph()
    graph = {m: {t for t in ts if not _is_parent_package(m, t)} for m, ts in internal.items()}
    assert _cycles(graph) == []


def test_layers_depend_downward_only() -> None:
    internal, _ = _graph()
    upward = sorted(
        f"{m} ({_layer(m)}) imports {t} ({_layer(t)})"
        for m, targets in internal.items()
        for t in targets
        if LAYERS[_layer(t)] > LAYERS[_layer(m)] and not _is_parent_package(m, t)
    )
    assert upward == []


def test_only_the_aws_layer_imports_boto3_or_botocore() -> None:
    _, external = _graph()
    offenders = sorted(
        f"{m} imports {sorted(ext & set(BOTO))}"
        for m, ext in external.items()
        if ext & set(BOTO) and m.split(".")[1 if "." in m else 0] not in BOTO_ALLOWED
    )
    assert offenders == []


@pytest.mark.parametrize("layer", ["config", "core", "report"])
def test_pure_layers_never_import_aws_sdks_or_linters_at_module_level(layer: str) -> None:
    """config, core and report stay importable (and validate stays fast) without boto3, moto or
    cfn-lint; core.lint imports cfn-lint inside the function that lints. The policy rules are
    cfn-lint plugins (cfn-lint loads them from their folder, nothing imports them), so they may."""
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if "policy_rules" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(REPO_ROOT)}: {n}"
                for n in names
                if n.startswith((*BOTO, "moto", "cfnlint"))
            ]
    assert offenders == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_600_lines() -> None:
    long = sorted(
        f"{p.relative_to(REPO_ROOT)}: {n}"
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    )
    assert long == []
