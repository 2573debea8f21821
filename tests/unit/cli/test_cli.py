"""mlopsctl validate as a user runs it: exit codes, report formats, PATH arguments, usage errors,
finding the repository, and internal errors shown without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlops_gitops import __version__
from mlops_gitops.config.validate import Validator
from tests.conftest import REPO_ROOT, Result, TmpRepo, example, run_cli

GOOD = "pipeline-configs/good/mlops-config.json"
BAD = "pipeline-configs/bad/mlops-config.json"
ENVIRONMENTS = "pipeline-configs/environments.json"
KEYS = {"file", "path", "code", "severity", "message", "hint"}


def validate(repo: TmpRepo, *args: str) -> Result:
    return run_cli("--repo-root", str(repo.root), "validate", *args)


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err
    assert "Traceback" not in result.out


@pytest.fixture
def good_repo(tmp_repo: TmpRepo) -> TmpRepo:
    tmp_repo.write("good", example("churn-realtime"))
    return tmp_repo


@pytest.fixture
def mixed_repo(good_repo: TmpRepo) -> TmpRepo:
    good_repo.write("bad", {**example("churn-realtime"), "inference_instance": "ml.m5.hugeee"})
    return good_repo


BAD_LINE = (
    f"{BAD}: $.inference_instance: 'ml.m5.hugeee' is not a SageMaker hosting instance type; "
    "did you mean 'ml.m5.large'?"
)

# ------------------------------------------------------------------ exit codes and the text report


def test_valid_repository_exits_0_with_nothing_on_stdout_and_a_summary_on_stderr(good_repo: TmpRepo) -> None:
    result = validate(good_repo)
    assert result.code == 0
    assert result.out == ""
    assert result.err == "mlopsctl validate: 2 files checked, 0 errors, 0 warnings\n"


def test_invalid_config_exits_1_with_one_line_per_finding(mixed_repo: TmpRepo) -> None:
    result = validate(mixed_repo)
    assert result.code == 1
    assert result.out == BAD_LINE + "\n"
    assert result.err == "mlopsctl validate: 3 files checked, 1 error, 0 warnings\n"
    assert_no_traceback(result)


def test_warnings_alone_exit_0(tmp_repo: TmpRepo) -> None:
    config = example("churn-batch")
    config["data_capture_sampling_percentage"] = 20  # a real-time field on a batch pipeline: unused
    tmp_repo.write("good", config)
    result = validate(tmp_repo)
    assert result.code == 0
    assert result.out.startswith(f"{GOOD}: $.data_capture_sampling_percentage: warning: ")
    assert len(result.out.splitlines()) == 1
    assert result.err == "mlopsctl validate: 2 files checked, 0 errors, 1 warning\n"
    doc = validate(tmp_repo, "--format", "json").json
    assert [f["severity"] for f in doc["findings"]] == ["warning"]
    junit = _testcases(validate(tmp_repo, "--format", "junit").out)
    assert junit[GOOD].find("failure") is None  # a warning is not a failed test
    system_out = junit[GOOD].find("system-out")
    assert system_out is not None and "data_capture_sampling_percentage" in (system_out.text or "")


# ------------------------------------------------------------------ --format json


def test_json_report_has_the_documented_keys(mixed_repo: TmpRepo) -> None:
    result = validate(mixed_repo, "--format", "json")
    assert result.code == 1
    doc = result.json
    assert set(doc) == {"findings", "checked"}
    assert doc["checked"] == 3
    assert doc["findings"] == [
        {
            "file": BAD,
            "path": "$.inference_instance",
            "code": "instance-type",
            "severity": "error",
            "message": "'ml.m5.hugeee' is not a SageMaker hosting instance type",
            "hint": "did you mean 'ml.m5.large'?",
        }
    ]
    assert result.err == "mlopsctl validate: 3 files checked, 1 error, 0 warnings\n"


def test_json_report_of_a_valid_repository(good_repo: TmpRepo) -> None:
    result = validate(good_repo, "--format", "json")
    assert result.code == 0
    assert result.json == {"findings": [], "checked": 2}


# ------------------------------------------------------------------ --format junit


def _testcases(xml_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml_text)  # well-formed, or this raises
    return {case.get("name"): case for case in root.iter("testcase")}


def test_junit_report_is_xml_with_a_testcase_per_file_and_a_failure_for_the_invalid_one(
    mixed_repo: TmpRepo,
) -> None:
    result = validate(mixed_repo, "--format", "junit")
    assert result.code == 1
    root = ET.fromstring(result.out)
    cases = _testcases(result.out)
    assert set(cases) == {ENVIRONMENTS, GOOD, BAD}
    assert root.get("tests") == "3" and root.get("failures") == "1"
    failure = cases[BAD].find("failure")
    assert failure is not None
    assert "ml.m5.hugeee" in (failure.text or "")
    assert cases[GOOD].find("failure") is None
    assert cases[ENVIRONMENTS].find("failure") is None


def test_junit_escapes_what_a_config_writes(tmp_repo: TmpRepo) -> None:
    # Values from the file end up in messages: XML special characters must not break the report.
    config = example("churn-realtime")
    config["inference_instance"] = "<ml.m5&large>"
    tmp_repo.write("bad", config)
    tmp_repo.write("x&y", "]]> <not-json/>")
    result = validate(tmp_repo, "--format", "junit")
    assert result.code == 1
    cases = _testcases(result.out)
    assert cases[BAD].find("failure") is not None
    assert cases["pipeline-configs/x&y/mlops-config.json"].find("failure") is not None


# ------------------------------------------------------------------ --output


@pytest.mark.parametrize("fmt", ["json", "junit", "text"])
def test_output_writes_the_report_to_a_file_and_findings_as_text_on_stdout(
    mixed_repo: TmpRepo, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / "reports" / "deeper" / f"validate.{fmt}"  # folders are created
    result = validate(mixed_repo, "--format", fmt, "--output", str(target))
    assert result.code == 1
    assert result.out == BAD_LINE + "\n"
    assert "3 files checked, 1 error" in result.err
    body = target.read_text(encoding="utf-8")
    if fmt == "json":
        doc = json.loads(body)
        assert doc["checked"] == 3
        assert [f["file"] for f in doc["findings"]] == [BAD]
    elif fmt == "junit":
        cases = _testcases(body)
        assert set(cases) == {ENVIRONMENTS, GOOD, BAD}
        assert cases[BAD].find("failure") is not None
    else:
        assert body == BAD_LINE + "\n"


def test_output_of_a_valid_repository(good_repo: TmpRepo, tmp_path: Path) -> None:
    target = tmp_path / "validate.json"
    result = validate(good_repo, "--format", "json", "--output", str(target))
    assert result.code == 0
    assert result.out == ""
    assert json.loads(target.read_text(encoding="utf-8")) == {"findings": [], "checked": 2}


# ------------------------------------------------------------------ order


def test_findings_are_sorted_by_file_then_path_with_numeric_indexes(tmp_repo: TmpRepo) -> None:
    notify = [f"team{i}@example.com" for i in range(12)]
    notify[10] = "not an address"
    notify[2] = "neither is this"
    tmp_repo.write("b-second", {**example("churn-realtime"), "notify": notify})
    tmp_repo.write("a-first", {**example("churn-realtime"), "inference_instance": "ml.m5.hugeee"})
    tmp_repo.write("c-third", "")
    result = validate(tmp_repo, "--format", "json")
    assert result.code == 1
    got = [(f["file"], f["path"]) for f in result.json["findings"]]
    # [2] and [10] are not addresses; [4]..[9] and [11] are e-mails beyond the topic's 3 slots
    second = [2, 4, 5, 6, 7, 8, 9, 10, 11]  # numeric order: 9 before 10, 2 before 10
    assert got == [
        ("pipeline-configs/a-first/mlops-config.json", "$.inference_instance"),
        *[("pipeline-configs/b-second/mlops-config.json", f"$.notify[{i}]") for i in second],
        ("pipeline-configs/c-third/mlops-config.json", "$"),
    ]
    text = validate(tmp_repo)
    assert [line.split(": ")[:2] for line in text.out.splitlines()] == [list(pair) for pair in got]


# ------------------------------------------------------------------ PATH arguments


def test_a_folder_path_limits_the_check_to_that_pipeline(mixed_repo: TmpRepo) -> None:
    result = validate(mixed_repo, "--format", "json", str(mixed_repo.configs / "good"))
    assert result.code == 0
    assert result.json == {"findings": [], "checked": 2}  # the pipeline and environments.json
    result = validate(mixed_repo, "--format", "json", str(mixed_repo.configs / "bad"))
    assert result.code == 1
    assert result.json["checked"] == 2
    assert {f["file"] for f in result.json["findings"]} == {BAD}


def test_a_file_path_limits_the_check_to_that_file(mixed_repo: TmpRepo) -> None:
    result = validate(mixed_repo, "--format", "json", str(mixed_repo.configs / "good" / "mlops-config.json"))
    assert result.code == 0
    assert result.json["checked"] == 2


def test_several_paths_and_relative_paths_from_the_current_folder(
    mixed_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed_repo.write("other", example("churn-batch"))
    monkeypatch.chdir(mixed_repo.root)
    result = validate(mixed_repo, "--format", "json", "pipeline-configs/good", "pipeline-configs/other")
    assert result.code == 0
    assert result.json["checked"] == 3
    result = validate(mixed_repo, "--format", "json", "pipeline-configs")
    assert result.code == 1
    assert result.json["checked"] == 4


def test_environments_json_as_the_path_checks_only_it(mixed_repo: TmpRepo) -> None:
    result = validate(mixed_repo, "--format", "json", str(mixed_repo.configs / "environments.json"))
    assert result.code == 0
    assert result.json == {"findings": [], "checked": 1}


def test_a_path_that_does_not_exist_is_a_usage_error(good_repo: TmpRepo) -> None:
    missing = good_repo.configs / "no-such-pipeline"
    result = validate(good_repo, str(missing))
    assert result.code == 2
    assert result.out == ""
    assert str(missing) in result.err
    assert "no such file or folder" in result.err
    assert_no_traceback(result)


def test_a_folder_without_configs_is_a_usage_error(good_repo: TmpRepo, tmp_path: Path) -> None:
    empty = good_repo.root / "empty"
    empty.mkdir()
    result = validate(good_repo, str(empty))
    assert result.code == 2
    assert "no mlops-config.json" in result.err


def test_a_path_outside_the_repository_is_a_usage_error_and_is_not_read(
    good_repo: TmpRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "mlops-config.json"
    outside.parent.mkdir()
    outside.write_text('{"pipeline_type": "SECRET-OUTSIDE"}')
    result = validate(good_repo, str(outside))
    assert result.code == 2
    assert "outside the repository" in result.err
    assert "SECRET-OUTSIDE" not in result.out + result.err
    assert_no_traceback(result)


# ------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    "argv, message",
    [
        (["validate", "--bogus"], "unrecognized arguments: --bogus"),
        (["--bogus", "validate"], "unrecognized arguments: --bogus"),
        (["validate", "--repo-root", "."], "unrecognized arguments: --repo-root"),  # a global option
        (["validate", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["validate", "--format"], "expected one argument"),
        (["validate", "--output"], "expected one argument"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        ([], "required"),
    ],
)
def test_bad_flags_exit_2_with_a_pointer_to_help(good_repo: TmpRepo, argv: list[str], message: str) -> None:
    result = run_cli("--repo-root", str(good_repo.root), *argv)
    assert result.code == 2
    assert result.out == ""
    assert message in result.err
    assert "--help" in result.err
    assert_no_traceback(result)


def test_no_repository_found_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = tmp_path / "not-a-repo" / "sub"
    nowhere.mkdir(parents=True)
    monkeypatch.chdir(nowhere)
    result = run_cli("validate")
    assert result.code == 2
    assert result.out == ""
    assert "no pipeline-configs/ folder" in result.err
    assert "--repo-root" in result.err  # the way out
    assert "mlops-gitops repository" in result.err
    assert_no_traceback(result)


def test_the_repository_is_found_from_a_subfolder(
    good_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(good_repo.configs / "good")
    result = run_cli("validate", "--format", "json")
    assert result.code == 0
    assert result.json == {"findings": [], "checked": 2}


@pytest.mark.parametrize("kind", ["empty-folder", "missing-folder", "a-file"])
def test_repo_root_without_pipeline_configs_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "root"
    if kind == "empty-folder":
        root.mkdir()
    elif kind == "a-file":
        root.write_text("{}", encoding="utf-8")
    result = run_cli("--repo-root", str(root), "validate")
    assert result.code == 2
    assert result.out == ""
    assert "no pipeline-configs/ folder" in result.err
    assert str(root) in result.err
    assert_no_traceback(result)


# ------------------------------------------------------------------ --help, --version


def test_help_mentions_the_exit_codes() -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert "exit codes" in result.out
    assert "2 usage error" in result.out
    assert "validate" in result.out


def test_validate_help_shows_the_line_format_and_exit_codes() -> None:
    result = run_cli("validate", "--help")
    assert result.code == 0
    assert "<file>: <JSON path>: <what is wrong>; <how to fix it>" in result.out
    assert "Exit 0" in result.out and "2 on a usage error" in result.out
    assert "--format {text,json,junit}" in result.out
    assert "--output FILE" in result.out


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"mlopsctl {__version__}"


# ------------------------------------------------------------------ internal errors


def _explode(self: Validator, *args: object, **kwargs: object) -> None:
    raise RuntimeError("boom in check_config")


def test_an_internal_error_is_a_message_not_a_traceback(
    good_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Validator, "check_config", _explode)
    result = validate(good_repo)
    assert result.code != 0
    assert result.code != 2  # not the user's fault
    assert_no_traceback(result)
    assert "internal error" in result.err
    assert "RuntimeError: boom in check_config" in result.err
    assert "--debug" in result.err


def test_debug_lets_an_internal_error_propagate(good_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Validator, "check_config", _explode)
    with pytest.raises(RuntimeError, match="boom in check_config"):
        run_cli("--debug", "--repo-root", str(good_repo.root), "validate")


# ------------------------------------------------------------------ the real console script


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)  # keeps MLOPS_GITOPS_CACHE_DIR from the autouse fixture
    env["PYTHONPATH"] = str(REPO_ROOT / "scripts")
    return env


def test_python_dash_m_validates_this_repository() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate"],
        cwd=REPO_ROOT,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert "0 errors" in done.stderr
    assert "Traceback" not in done.stderr


def test_python_dash_m_reports_a_usage_error_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate"],
        cwd=tmp_path,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--repo-root" in done.stderr
    assert "Traceback" not in done.stderr


def test_installed_mlopsctl_validates_this_repository() -> None:
    script = Path(sys.executable).with_name("mlopsctl")
    if not script.exists():
        script = REPO_ROOT / ".venv" / "bin" / "mlopsctl"
    if not script.exists():
        pytest.skip("mlopsctl is not installed in this environment")
    done = subprocess.run(
        [str(script), "validate", "--format", "json"],
        cwd=REPO_ROOT,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["checked"] == len(list((REPO_ROOT / "pipeline-configs").glob("*/mlops-config.json"))) + 1
    assert [f for f in doc["findings"] if f["severity"] == "error"] == []
