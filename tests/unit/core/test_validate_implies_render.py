"""validate => render (issue 14): every config validate accepts renders for every stage it deploys to.

A property test over mutations of the example configs: one value is changed (a character inserted
into a string, a number replaced by a boundary value, a key dropped); when validate has no error
for the mutated config, render must build every stage without a RenderError (template-pending
notes aside). When render refuses what validate accepted, validate must learn the template
parameter's constraint and report it at the config key.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.config.validate import Validator, validate
from mlops_gitops.core.render import RenderError, render
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS, repo_copy

EXAMPLES = sorted(p.parent.name for p in CONFIGS.glob("*/mlops-config.json"))
# characters that are easy to type and tend to slip through one check but not another
CHARACTERS = [
    '"',
    "\\",
    "\n",
    "\t",
    "{",
    "}",
    " ",
    "'",
    "$",
    "%",
    "/",
    "//",
    "-",
    "--",
    ".",
    "_",
    ":",
    "A",
    "0",
    "9",
    "\uff11",
    "\u00e9",
    "\u2028",
    "#",
    "?",
    "*",
    "@",
    ",",
    "[",
    "]",
    "(",
    ")",
]
# deterministic in `make test`; MLOPS_PROPERTY_EXAMPLES=500 explores further (randomly)
EXAMPLES_PER_CONFIG = int(os.environ.get("MLOPS_PROPERTY_EXAMPLES", "40"))
DERANDOMIZE = "MLOPS_PROPERTY_EXAMPLES" not in os.environ
NUMBERS = [0, 1, -1, 2, 100, 101, 3600, 86400, 10**6, 0.5, 1.5, 2**31]


@pytest.fixture(scope="module")
def workspace() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        yield repo_copy(Path(tmp) / "repo", EXAMPLES)


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "$schema":
                out.append((*path, key))
                out += _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _leaves(child, (*path, index))
    else:
        out.append(path)
    return out


def _get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw: Any, base: str) -> tuple[dict[str, Any], str]:
    config = json.loads((CONFIGS / base / "mlops-config.json").read_text())
    path = draw(st.sampled_from(sorted({p for p in _leaves(config) if p}, key=repr)))
    parent, last = _get(config, path[:-1]), path[-1]
    value = parent[last]
    kind = draw(st.sampled_from(["insert", "replace", "drop"]))
    if kind == "drop" and isinstance(parent, dict):
        del parent[last]
    elif isinstance(value, str) and kind == "insert":
        at = draw(st.integers(0, len(value)))
        parent[last] = value[:at] + draw(st.sampled_from(CHARACTERS)) + value[at:]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[last] = draw(st.sampled_from(NUMBERS))
    elif isinstance(value, str):
        parent[last] = draw(st.sampled_from(["", "x", value.upper(), value * 3, value + value[-1:] * 60]))
    else:
        return config, "unchanged"
    return config, f"{kind} at {path!r}"


@pytest.mark.parametrize("base", EXAMPLES)
@settings(
    max_examples=EXAMPLES_PER_CONFIG,
    deadline=None,
    derandomize=DERANDOMIZE,
    print_blob=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_what_validate_accepts_renders_for_every_stage(workspace: Path, base: str, data: Any) -> None:
    config, what = data.draw(mutated(base), label="mutation")
    path = workspace / "pipeline-configs" / base / "mlops-config.json"
    original = path.read_bytes()
    try:
        path.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        repo = Repo(workspace)
        report, configs = validate(repo, [path])
        if report.errors:
            return
        (cfg,) = configs
        env = Validator(repo).environments()
        for stage in cfg.stages:
            try:
                render(workspace, cfg, stage, env, commit="0" * 40)
            except RenderError as exc:
                refused = [f for f in exc.findings if f.code != "template-pending"]
                assert not refused, f"{base}, {what}: validate accepted, render refused: " + "; ".join(
                    f.text() for f in refused
                )
    finally:
        path.write_bytes(original)


def test_the_workspace_is_left_as_found(workspace: Path) -> None:
    for base in EXAMPLES:
        assert (workspace / "pipeline-configs" / base / "mlops-config.json").read_bytes() == (
            CONFIGS / base / "mlops-config.json"
        ).read_bytes()
    shutil.rmtree(workspace / "pipeline-configs" / "does-not-exist", ignore_errors=True)
