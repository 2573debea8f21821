"""One `mlopsctl validate` builds one config Validator (schemas loaded, environments.json read and
checked once) for the config checks and the physical-name check after them."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from mlops_gitops.cli import main
from mlops_gitops.config import validate as config_validate
from tests.conftest import REPO_ROOT


def test_one_validate_run_builds_one_validator_and_reads_environments_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts: Counter[str] = Counter()
    build, load = config_validate.Validator.__init__, config_validate.load_json

    def counting_build(self, repo) -> None:  # noqa: ANN001
        counts["validator"] += 1
        build(self, repo)

    def counting_load(path, display, **kwargs):  # noqa: ANN001
        if path.name == "environments.json":
            counts["environments.json"] += 1
        return load(path, display, **kwargs)

    monkeypatch.setattr(config_validate.Validator, "__init__", counting_build)
    monkeypatch.setattr(config_validate, "load_json", counting_load)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--repo-root", str(REPO_ROOT), "validate"], environ={}, stdout=out, stderr=err)
    assert code == 0, out.getvalue() + err.getvalue()
    assert "files checked, 0 errors" in err.getvalue()
    assert counts == {"validator": 1, "environments.json": 1}


def test_a_validator_reports_environments_findings_on_every_ask(tmp_path) -> None:  # noqa: ANN001
    """Read once, still reported to each report that asks (as when it was read each time)."""
    from mlops_gitops.repo import Repo
    from tests.conftest import repo_copy

    root = repo_copy(tmp_path / "repo", [])
    (root / "pipeline-configs" / "environments.json").write_text('{"stack_prefix": 3}')
    validator = config_validate.Validator(Repo(root))
    first, second = config_validate.Report(), config_validate.Report()
    assert validator.environments(first) == validator.environments(second)
    assert first.findings and first.findings == second.findings
    assert first.checked == second.checked == ["pipeline-configs/environments.json"]
