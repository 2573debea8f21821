"""The docs stay true to the repository: generated references current, every schema key documented,
a short README, links and tables that work, and the pre-commit hooks the docs promise."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

pytestmark = pytest.mark.repo

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "gen_config_reference.py"
MARKDOWN = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
README_MAX_LINES = 160


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference", SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


# ------------------------------------------------------------------ generated references


def test_generated_references_are_current() -> None:
    stale = [t.doc for t in gen.stale(REPO_ROOT)]
    assert not stale, (
        f"{', '.join(stale)} stale: run `python scripts/gen_config_reference.py` (or `make docs`)"
    )


def _property_names(node: object, inside_if: bool = False) -> set[str]:
    """Every key of every `properties` object in a schema, nested and in $defs, except in `if`
    conditions (they only test values)."""
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict) and not inside_if:
                names.update(value)
            names |= _property_names(value, inside_if or key == "if")
    elif isinstance(node, list):
        for value in node:
            names |= _property_names(value, inside_if)
    return names


def _documented_paths(target) -> list[str]:
    text = (REPO_ROOT / target.doc).read_text(encoding="utf-8")
    block = text[text.index(target.start) : text.index(target.end)]
    return re.findall(r"^#{3,6} `(\$[^`]*)`$", block, flags=re.MULTILINE)


@pytest.mark.parametrize("target", gen.TARGETS, ids=lambda t: t.schema)
def test_every_schema_property_is_in_the_reference(target) -> None:
    schema = json.loads((REPO_ROOT / target.schema).read_text(encoding="utf-8"))
    paths = _documented_paths(target)
    assert len(paths) == len(set(paths)), "a JSON path is documented twice"
    assert {f"$.{name}" for name in schema["properties"]} <= set(paths), "a top-level key is missing"
    last_segments = {p.rsplit(".", 1)[-1] for p in paths}
    missing = sorted(_property_names(schema) - last_segments)
    assert not missing, f"{target.doc} does not document {missing} of {target.schema}"


def test_check_mode_fails_on_a_stale_reference_and_names_the_command(tmp_path: Path, capsys) -> None:
    for target in gen.TARGETS:
        for rel in (target.schema, target.doc):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / rel, tmp_path / rel)
    assert gen.main(["--check", "--root", str(tmp_path)]) == 0

    schema_path = tmp_path / gen.TARGETS[0].schema
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["properties"]["owner"]["description"] = "Someone else now."
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    capsys.readouterr()
    assert gen.main(["--check", "--root", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert "python scripts/gen_config_reference.py" in message and gen.TARGETS[0].doc in message

    assert gen.main(["--root", str(tmp_path)]) == 0  # regenerate: current again, the edit included
    assert gen.main(["--check", "--root", str(tmp_path)]) == 0
    assert "Someone else now." in (tmp_path / gen.TARGETS[0].doc).read_text(encoding="utf-8")


def test_makefile_has_a_docs_target_running_the_generator() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe and "scripts/gen_config_reference.py" in recipe.group(1)


# ------------------------------------------------------------------ README and links


def test_readme_is_short() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def _prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where links are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, flags=re.MULTILINE):
        slug = _slug(heading)
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


@pytest.mark.parametrize("doc", MARKDOWN, ids=_rel)
def test_relative_links_point_at_existing_files(doc: Path) -> None:
    broken = []
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", _prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.exists():
            broken.append(f"{target} (no {resolved})")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target} (no heading #{fragment} in {_rel(resolved)})")
    assert not broken, f"{_rel(doc)}: broken links: {broken}"


def _cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


@pytest.mark.parametrize("doc", [*MARKDOWN, REPO_ROOT / "CHANGELOG.md"], ids=_rel)
def test_tables_are_well_formed(doc: Path) -> None:
    """Each table: a header, a separator, rows with as many cells; no table split by a blank line."""
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    problems = []
    for block in re.findall(r"(?:^\|.*\n?)+", text, flags=re.MULTILINE):
        rows = block.strip("\n").split("\n")
        if len(rows) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", rows[1].strip()):
            problems.append(f"a table without a header separator: {rows[0][:60]!r}")
            continue
        width = _cells(rows[0])
        problems += [f"{_cells(r)} cells, not {width}: {r[:60]!r}" for r in rows[1:] if _cells(r) != width]
    assert not problems, f"{_rel(doc)}: {problems}"


# ------------------------------------------------------------------ pre-commit


def _hooks() -> dict[str, tuple[dict, dict]]:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: (repo, hook) for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_checks_configs_with_the_schema() -> None:
    repo, hook = _hooks()["check-jsonschema"]
    assert repo["repo"] == "https://github.com/python-jsonschema/check-jsonschema"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(repo["rev"]))
    args = hook["args"]
    assert args[args.index("--schemafile") + 1] == "pipeline-configs/mlops-config.schema.json"
    files = re.compile(hook["files"])
    assert files.search("pipeline-configs/churn-realtime/mlops-config.json")
    assert not files.search("pipeline-configs/environments.json")
    assert not files.search("tests/fixtures/configs/valid/x/mlops-config.json")


def test_pre_commit_lints_templates_with_the_cfn_lint_we_depend_on() -> None:
    repo, hook = _hooks()["cfn-lint"]
    assert repo["repo"] == "https://github.com/aws-cloudformation/cfn-lint"
    rev = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", str(repo["rev"]))
    assert rev, repo["rev"]
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    low, high = re.search(r'"cfn-lint>=([\d.]+),<([\d.]+)"', pyproject).groups()

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split("."))

    assert version(low) <= tuple(int(p) for p in rev.groups()) < version(high), (
        "rev outside pyproject's range"
    )
    files = re.compile(hook["files"])
    assert files.search("cloudformation/orchestrator.yaml")
    assert files.search("cloudformation/pipelines/data_lake.yaml")
    assert not files.search("cloudformation/pipelines/pipeline-types.json")


def test_pre_commit_keeps_the_ruff_hooks() -> None:
    assert {"ruff", "ruff-format"} <= set(_hooks())
