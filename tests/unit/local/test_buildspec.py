"""The local buildspec runner: real shells in tmp_path, CodeBuild's phase and environment rules."""

from __future__ import annotations

import io
import os
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from mlops_gitops.errors import GitOpsError
from mlops_gitops.local.buildspec import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
    BuildResult,
    BuildspecError,
    load_buildspec,
    run_build,
)


def build(tmp_path: Path, text: str, **kwargs: Any) -> BuildResult:
    """Run ``text`` with ``tmp_path/src`` as the source and a small, known base environment."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    kwargs.setdefault("base_env", {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")})
    kwargs.setdefault("project_name", "proj")
    return run_build(load_buildspec(textwrap.dedent(text)), src_dir=src, **kwargs)


def output(result: BuildResult) -> list[str]:
    """What the commands printed: the log without the runner's own [Container] lines."""
    return [line for line in result.log.splitlines() if not line.startswith("[Container]")]


def statuses(result: BuildResult) -> dict[str, str]:
    return {p.phase_type: p.status for p in result.phases}


def ssm_client() -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "ssm", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def secrets_client() -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def gone(pid: int, within: float = 10.0) -> bool:
    """True when the process no longer runs (a zombie awaiting its reaper counts as gone). A killed
    process takes the kernel a moment to finish, longer on a loaded machine: wait for that event,
    up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


# --- phases and the shell


def test_phases_run_in_order_with_finally_after_commands(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          post_build:
            commands: [echo post_build]
          build:
            commands: [echo build]
            finally: [echo build-finally]
          pre_build:
            commands: [echo pre_build]
          install:
            commands: [echo install]
        """,
    )
    assert result.status == SUCCEEDED
    assert output(result) == ["install", "pre_build", "build", "build-finally", "post_build"]
    assert [p.phase_type for p in result.phases] == [
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
    ]
    assert set(statuses(result).values()) == {SUCCEEDED}
    assert result.build_id.startswith("proj:")


@pytest.mark.parametrize("shell", ["/bin/sh", "bash"])
def test_cd_export_and_shell_variables_carry_across_commands_and_phases(tmp_path: Path, shell: str) -> None:
    result = build(
        tmp_path,
        f"""
        version: 0.2
        env:
          shell: {shell}
        phases:
          install:
            commands:
              - mkdir -p deep/er && cd deep
              - cd er
              - export EXPORTED=e1
              - PLAIN='it'"'"'s two
                lines'
          build:
            commands:
              - pwd
              - echo "$EXPORTED"
              - printf '%s|\\n' "$PLAIN"
              - sh -c 'echo "child sees ${{PLAIN-nothing}} and $EXPORTED"'
              - unset EXPORTED; cd ..
          post_build:
            commands:
              - pwd
              - echo "${{EXPORTED-unset}}"
        """,
    )
    assert result.status == SUCCEEDED, result.log
    src = tmp_path / "src"
    assert output(result) == [
        str(src / "deep" / "er"),
        "e1",
        "it's two lines|",  # YAML folds the plain multi-line scalar into one line
        "child sees nothing and e1",  # an unexported variable stays in the shell, as in one shell
        str(src / "deep"),
        "unset",
    ]


def test_multi_line_values_and_exit_in_a_command(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                V='first
                second'
              - exit 0
              - printf '[%s]\\n' "$V"
        """,
    )
    # exit ends only its own command: CodeBuild runs the next one (and so do we)
    assert result.status == SUCCEEDED
    assert output(result) == ["[first", "second]"]


def test_default_shell_is_sh_and_bash_is_opt_in(tmp_path: Path) -> None:
    text = """
        version: 0.2
        {env}
        phases:
          build:
            commands:
              - '[[ 1 == 1 ]]'
        """
    with_sh = build(tmp_path, text.format(env=""))
    assert with_sh.phase("build").status == FAILED
    assert with_sh.phase("build").exit_code == 127  # dash: "[[: not found"
    with_bash = build(tmp_path, text.format(env="env: {shell: bash}"))
    assert with_bash.status == SUCCEEDED


def test_first_failing_command_stops_the_phase_and_finally_still_runs(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo one
              - echo to-stderr >&2; exit 3
              - echo never
            finally:
              - echo cleanup
              - echo cleanup-2
        """,
    )
    phase = result.phase("BUILD")
    assert (phase.status, phase.exit_code) == (FAILED, 3)
    assert phase.failed_command == "echo to-stderr >&2; exit 3"
    assert "COMMAND_EXECUTION_ERROR" in (phase.message or "")
    assert output(result) == ["one", "to-stderr", "cleanup", "cleanup-2"]
    assert result.status == FAILED


def test_failing_finally_fails_a_phase_whose_commands_passed(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands: [echo ok]
            finally: ['false', echo not-after-failure]
          build:
            commands: [echo build]
        """,
    )
    assert result.phase("install").status == FAILED
    assert result.phase("install").failed_command == "false"
    assert output(result) == ["ok"]
    assert result.phase("build").status == SKIPPED


@pytest.mark.parametrize("failing", ["install", "pre_build"])
def test_install_or_pre_build_failure_skips_the_rest(tmp_path: Path, failing: str) -> None:
    phases = {name: f"echo {name}" for name in ("install", "pre_build", "build", "post_build")}
    phases[failing] = "false"
    body = "".join(f"  {name}:\n    commands: ['{cmd}']\n" for name, cmd in phases.items())
    result = build(
        tmp_path,
        "version: 0.2\nartifacts:\n  files: ['**/*']\nphases:\n" + body,
    )
    assert result.status == FAILED
    assert result.phase(failing).status == FAILED
    later = ["INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"]
    later = later[later.index(failing.upper()) + 1 :]
    assert [result.phase(p).status for p in later] == [SKIPPED] * len(later)
    assert result.phase("UPLOAD_ARTIFACTS").status == SKIPPED
    assert not any(line in output(result) for line in ("build", "post_build"))


def test_build_failure_still_runs_post_build_which_sees_succeeding_0(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands: ['echo "install $CODEBUILD_BUILD_SUCCEEDING"']
          build:
            commands: ['echo "build $CODEBUILD_BUILD_SUCCEEDING"', 'false']
          post_build:
            commands: ['echo "post_build $CODEBUILD_BUILD_SUCCEEDING"']
        """,
    )
    assert output(result) == ["install 1", "build 1", "post_build 0"]
    assert statuses(result)["BUILD"] == FAILED
    assert statuses(result)["POST_BUILD"] == SUCCEEDED
    assert result.status == FAILED


@pytest.mark.parametrize(("build_command", "post_status"), [("true", SUCCEEDED), ("false", FAILED)])
def test_post_build_guard_on_succeeding(tmp_path: Path, build_command: str, post_status: str) -> None:
    result = build(
        tmp_path,
        f"""
        version: 0.2
        phases:
          build:
            commands: ['{build_command}']
          post_build:
            commands:
              - '[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] || exit 1'
              - echo published
        """,
    )
    assert result.phase("POST_BUILD").status == post_status
    assert ("published" in output(result)) is (post_status == SUCCEEDED)


def test_finally_of_a_failing_phase_sees_succeeding_0_by_default(tmp_path: Path) -> None:
    text = """
        version: 0.2
        phases:
          build:
            commands: ['false']
            finally: ['echo "finally $CODEBUILD_BUILD_SUCCEEDING"']
        """
    assert output(build(tmp_path, text)) == ["finally 0"]
    assert output(build(tmp_path, text, failing_finally_sees_zero=False)) == ["finally 1"]


def test_on_failure_continue_goes_on_and_the_build_still_fails(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            on-failure: CONTINUE
            commands: ['false']
          pre_build:
            commands: ['echo "pre_build $CODEBUILD_BUILD_SUCCEEDING"']
          build:
            commands: [echo build]
        """,
    )
    assert output(result) == ["pre_build 0", "build"]
    assert statuses(result)["INSTALL"] == FAILED
    assert statuses(result)["BUILD"] == SUCCEEDED
    assert result.status == FAILED


def test_on_failure_abort_ends_the_build(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            on-failure: ABORT
            commands: ['false']
          post_build:
            commands: [echo post_build]
        """,
    )
    assert statuses(result)["POST_BUILD"] == SKIPPED
    assert output(result) == []
    assert result.status == FAILED


def test_on_failure_retry_runs_the_phase_again(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-2
            commands:
              - echo x >> tries
              - '[ "$(wc -l < tries)" -ge 2 ]'
        """,
    )
    assert result.phase("build").status == SUCCEEDED
    assert result.phase("build").attempts == 2
    assert result.status == SUCCEEDED


def test_on_failure_retry_regex_must_match_the_output(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-3-throttl
            commands: ['echo "access denied"; false']
        """,
    )
    assert result.phase("build").attempts == 1
    assert result.status == FAILED


# --- environment


def test_environment_precedence_literal_values_and_builtins(tmp_path: Path) -> None:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "FROM_BASE": "base",
        "IMAGE_VAR": "image",
        "BOTH": "base",
    }
    result = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables:
            PATH_X: "$HOME/x"
            IMAGE_VAR: buildspec
            BOTH: buildspec
            SPACED: " a  b "
        phases:
          build:
            commands:
              - 'for v in FROM_BASE IMAGE_VAR BOTH PATH_X SPACED HOME; do eval "printf \\"%s=[%s]\\n\\" $v \\"\\$$v\\""; done'
              - env | grep -E '^(AWS_|CODEBUILD_)' | sort
        """,
        base_env=base,
        env={"BOTH": "project"},
        source_version="refs/heads/main",
        resolved_source_version="0123abcd",
        initiator="codepipeline/my-pipeline",
        region="eu-west-1",
        account_id="111122223333",
        build_number=7,
    )
    assert result.status == SUCCEEDED, result.log
    lines = output(result)
    assert lines[:6] == [
        "FROM_BASE=[base]",
        "IMAGE_VAR=[buildspec]",  # env.variables replaces the image's value
        "BOTH=[project]",  # project / action variables beat the buildspec
        "PATH_X=[$HOME/x]",  # literal, never expanded
        "SPACED=[ a  b ]",
        f"HOME=[{tmp_path / 'home'}]",  # kept from the base environment
    ]
    env = dict(line.split("=", 1) for line in lines[6:])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["CODEBUILD_BUILD_ID"] == result.build_id
    assert (
        env["CODEBUILD_BUILD_ID"].startswith("proj:") and len(env["CODEBUILD_BUILD_ID"]) == len("proj:") + 36
    )
    assert env["CODEBUILD_BUILD_ARN"] == f"arn:aws:codebuild:eu-west-1:111122223333:build/{result.build_id}"
    assert env["CODEBUILD_BUILD_NUMBER"] == "7"
    assert env["CODEBUILD_SRC_DIR"] == str(tmp_path / "src")
    assert env["CODEBUILD_SOURCE_VERSION"] == "refs/heads/main"
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "0123abcd"
    assert env["CODEBUILD_INITIATOR"] == "codepipeline/my-pipeline"
    assert env["CODEBUILD_BUILD_SUCCEEDING"] == "1"
    assert abs(int(env["CODEBUILD_START_TIME"]) / 1000 - result.start_time) < 1


def test_resolved_source_version_is_unset_when_not_given(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: ['echo "${CODEBUILD_RESOLVED_SOURCE_VERSION-unset}"']
        """,
    )
    assert output(result) == ["unset"]


def test_parameter_store_values_through_ssm_and_masked_in_the_log(tmp_path: Path) -> None:
    # A real botocore client with Stubber: the request and response shapes are checked against the
    # SSM model, which a hand-written fake would not do.
    client = ssm_client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_parameters",
            {
                "Parameters": [
                    {"Name": "/app/token", "Type": "SecureString", "Value": "s3cr3t-token", "Version": 1},
                    {"Name": "/app/region", "Type": "String", "Value": "eu-west-1", "Version": 3},
                ],
            },
            {"Names": ["/app/token", "/app/region"], "WithDecryption": True},
        )
        result = build(
            tmp_path,
            """
            version: 0.2
            env:
              variables:
                TOKEN: overridden-by-parameter-store
              parameter-store:
                TOKEN: /app/token
                TARGET_REGION: /app/region
            phases:
              build:
                commands:
                  - echo "token=$TOKEN"
                  - printf '%s' "$TOKEN" > token.txt
                  - echo "region=$TARGET_REGION"
            """,
            ssm_client=client,
        )
        stub.assert_no_pending_responses()
    assert result.status == SUCCEEDED, result.log
    assert (tmp_path / "src" / "token.txt").read_text() == "s3cr3t-token"
    assert output(result) == ["token=***", "region=***"]
    assert "s3cr3t-token" not in result.log


def test_project_variable_beats_a_parameter_store_variable(tmp_path: Path) -> None:
    client = ssm_client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_parameters",
            {"Parameters": [{"Name": "/p", "Type": "String", "Value": "from-ssm", "Version": 1}]},
            {"Names": ["/p"], "WithDecryption": True},
        )
        result = build(
            tmp_path,
            """
            version: 0.2
            env:
              parameter-store: {P: /p}
            phases:
              build:
                commands: ['echo "P is $P"']
            """,
            ssm_client=client,
            env={"P": "from-project"},
        )
    assert output(result) == ["P is from-project"]


def test_missing_parameter_fails_download_source_without_running_anything(tmp_path: Path) -> None:
    client = ssm_client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_parameters",
            {"Parameters": [], "InvalidParameters": ["/app/missing"]},
            {"Names": ["/app/missing"], "WithDecryption": True},
        )
        result = build(
            tmp_path,
            """
            version: 0.2
            env:
              parameter-store:
                MISSING: /app/missing
              exported-variables: [MISSING]
            phases:
              install:
                commands: [touch ran]
            artifacts:
              files: ['**/*']
            """,
            ssm_client=client,
        )
    download = result.phase("DOWNLOAD_SOURCE")
    assert download.status == FAILED
    assert download.message == "Decrypted Variables Error: parameter does not exist: /app/missing"
    assert (
        "Phase context status code: Decrypted Variables Error Message: parameter does not exist" in result.log
    )
    assert {p.phase_type: p.status for p in result.phases[1:]} == dict.fromkeys(
        ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"), SKIPPED
    )
    assert not (tmp_path / "src" / "ran").exists()
    assert result.status == FAILED


def test_ssm_error_and_missing_client_fail_the_build_with_the_reason(tmp_path: Path) -> None:
    text = """
        version: 0.2
        env:
          parameter-store: {X: /x}
        phases:
          build:
            commands: [echo hi]
        """
    client = ssm_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_parameters", service_error_code="AccessDeniedException", service_message="not allowed"
        )
        denied = build(tmp_path, text, ssm_client=client)
    assert denied.status == FAILED
    assert "AccessDeniedException" in (denied.phase("DOWNLOAD_SOURCE").message or "")
    no_client = build(tmp_path, text)
    assert "no SSM client" in (no_client.phase("DOWNLOAD_SOURCE").message or "")


def test_secrets_manager_whole_secret_json_key_and_stage(tmp_path: Path) -> None:
    client = secrets_client()
    created = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value",
            {"Name": "app/db", "SecretString": '{"user": "admin", "password": "hunter22", "port": 5432}'},
            {"SecretId": "app/db"},
        )
        stub.add_response(
            "get_secret_value",
            {"Name": "app/db", "SecretString": '{"port": 5432}', "CreatedDate": created},
            {"SecretId": "app/db"},
        )
        stub.add_response(
            "get_secret_value",
            {"Name": "old", "SecretString": "previous-value"},
            {
                "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:old-AbCdEf",
                "VersionStage": "AWSPREVIOUS",
            },
        )
        result = build(
            tmp_path,
            """
            version: 0.2
            env:
              secrets-manager:
                DB_PASSWORD: app/db:password
                DB_PORT: app/db:port
                OLD: arn:aws:secretsmanager:us-east-1:123456789012:secret:old-AbCdEf::AWSPREVIOUS
            phases:
              build:
                commands:
                  - printf '%s %s %s' "$DB_PASSWORD" "$DB_PORT" "$OLD" > secrets.txt
            """,
            secrets_client=client,
        )
        stub.assert_no_pending_responses()
    assert result.status == SUCCEEDED, result.log
    assert (tmp_path / "src" / "secrets.txt").read_text() == "hunter22 5432 previous-value"


def test_exported_variables_are_read_after_post_build(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        env:
          variables:
            FROM_SPEC: spec
          exported-variables: [IMAGE_TAG, PLAIN, FROM_SPEC, NEVER_SET]
        phases:
          build:
            commands:
              - export IMAGE_TAG=build-value
          post_build:
            commands:
              - IMAGE_TAG=final-value
              - PLAIN=shell-variable
        """,
    )
    assert result.exported_variables == {
        "IMAGE_TAG": "final-value",
        "PLAIN": "shell-variable",
        "FROM_SPEC": "spec",
        "NEVER_SET": "",
    }


# --- reports and artifacts

JUNIT = """<?xml version="1.0"?>
<testsuites>
  <testsuite name="a" tests="3">
    <testcase name="ok"/>
    <testcase name="bad"><failure message="no"/></testcase>
    <testcase name="skip"><skipped/></testcase>
  </testsuite>
  <testsuite name="b"><testcase name="boom"><error/></testcase></testsuite>
</testsuites>
"""


def test_reports_are_collected_with_junit_counts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "reports" / "nested").mkdir(parents=True)
    (src / "reports" / "unit.xml").write_text(JUNIT)
    (src / "reports" / "nested" / "suite.xml").write_text('<testsuite tests="4" failures="1" errors="0"/>')
    (src / "reports" / "broken.xml").write_text("<testsuite")
    (src / "reports" / "notes.txt").write_text("not a report")
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: ['false']
        reports:
          unit:
            base-directory: reports
            files: ['**/*.xml']
          arn:aws:codebuild:us-east-1:123456789012:report-group/coverage:
            files: [cov/*.xml]
            file-format: coberturaxml
        """,
    )
    unit, coverage = result.reports
    assert unit.group_name == "proj-unit"  # collected even though the build failed
    assert unit.file_format == "JUNITXML"
    by_name = {f.path.name: f for f in unit.files}
    assert sorted(by_name) == ["broken.xml", "suite.xml", "unit.xml"]
    unit_xml = by_name["unit.xml"]
    assert (unit_xml.tests, unit_xml.failures, unit_xml.errors, unit_xml.skipped) == (4, 1, 1, 1)
    assert (by_name["suite.xml"].tests, by_name["suite.xml"].failures) == (4, 1)
    assert by_name["broken.xml"].tests is None and "not readable JUnit XML" in (
        by_name["broken.xml"].error or ""
    )
    assert (unit.total("tests"), unit.total("failures")) == (8, 2)
    assert coverage.group_name.startswith("arn:aws:codebuild:")
    assert (coverage.file_format, coverage.files) == ("COBERTURAXML", [])


def make_tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_artifacts_base_directory_exclude_paths_and_secondary(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, ["dist/a.txt", "dist/.hidden", "dist/sub/b.txt", "dist/sub/c.log", "other.txt", "x/y.txt"])
    out = tmp_path / "out"
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: [mkdir -p dist/gen, echo generated > dist/gen/g.txt]
        artifacts:
          base-directory: dist
          files: ['**/*']
          exclude-paths: ['**/*.log']
          secondary-artifacts:
            Flat:
              files: [dist/sub/*, x]
              discard-paths: yes
            Single:
              files: [other.txt]
        """,
        artifacts_dir=out,
    )
    assert result.status == SUCCEEDED, result.log
    primary = result.artifact()
    assert primary is not None and primary.directory == out / "primary"
    expected = [".hidden", "a.txt", "gen/g.txt", "sub/b.txt"]
    assert [str(dest) for _, dest in primary.files] == expected
    assert relative_files(out / "primary") == expected
    assert (out / "primary" / "gen" / "g.txt").read_text() == "generated\n"
    assert relative_files(out / "secondary" / "Flat") == ["b.txt", "c.log", "y.txt"]
    assert relative_files(out / "secondary" / "Single") == ["other.txt"]
    flat = result.artifact("Flat")
    assert flat is not None and (src / "x" / "y.txt", PurePosixPath("y.txt")) in flat.files


def test_artifacts_base_directory_glob_drops_the_matched_directories(tmp_path: Path) -> None:
    make_tree(tmp_path / "src", ["dist1/a.txt", "dist2/deep/b.txt", "other/c.txt"])
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: ['true']
        artifacts:
          base-directory: 'dist*'
          files: ['**/*']
        """,
    )
    primary = result.artifact()
    assert primary is not None
    assert [str(dest) for _, dest in primary.files] == ["a.txt", "deep/b.txt"]


def test_artifacts_that_match_nothing_fail_upload_artifacts(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands: ['true']
        artifacts:
          files: [missing/**/*]
        """,
    )
    assert result.phase("UPLOAD_ARTIFACTS").status == FAILED
    assert "no matching artifact paths found" in (result.phase("UPLOAD_ARTIFACTS").message or "")
    assert result.status == FAILED


def test_artifacts_after_a_failed_build_but_not_after_a_failed_install(tmp_path: Path) -> None:
    make_tree(tmp_path / "src", ["a.txt"])
    text = """
        version: 0.2
        phases:
          {phase}:
            commands: ['false']
        artifacts:
          files: [a.txt]
        """
    after_build = build(tmp_path, text.format(phase="build"))
    assert after_build.phase("UPLOAD_ARTIFACTS").status == SUCCEEDED
    assert after_build.artifact() is not None
    after_install = build(tmp_path, text.format(phase="install"))
    assert after_install.phase("UPLOAD_ARTIFACTS").status == SKIPPED
    assert after_install.artifacts == []
    knob = build(tmp_path, text.format(phase="install"), upload_artifacts_after_early_failure=True)
    assert knob.phase("UPLOAD_ARTIFACTS").status == SUCCEEDED


# --- time, processes, streaming


def test_timeout_kills_the_command_and_marks_the_build_timed_out(tmp_path: Path) -> None:
    started = time.monotonic()
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - sleep 120 & echo $! > sleep.pid; wait
            finally: [echo finally]
          post_build:
            commands: [echo post_build]
        """,
        timeout=0.3,
    )
    # Far below the command's 120 s, with room for a loaded machine: the build did not wait for it.
    assert time.monotonic() - started < 60
    assert result.status == TIMED_OUT
    assert result.phase("BUILD").status == TIMED_OUT
    assert result.phase("POST_BUILD").status == SKIPPED
    assert output(result) == []
    assert gone(int((tmp_path / "src" / "sleep.pid").read_text()))


def test_background_process_neither_blocks_the_build_nor_outlives_it(tmp_path: Path) -> None:
    started = time.monotonic()
    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            commands:
              - sleep 300 & echo $! > bg.pid
              - echo next
        """,
        timeout=200,
    )
    # The sleep holds the output pipe; far below its 300 s: the build did not wait for its end.
    assert time.monotonic() - started < 60
    assert result.status == SUCCEEDED
    assert output(result) == ["next"]
    assert gone(int((tmp_path / "src" / "bg.pid").read_text()))


def test_output_is_streamed_while_the_command_runs(tmp_path: Path) -> None:
    # The command waits for a file that the log callback creates when it sees "first": if output were
    # delivered only after the command ended, the command would wait until the timeout.
    src = tmp_path / "src"
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line == "first":
            (src / "go").touch()

    result = build(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo first; while [ ! -f go ]; do sleep 0.01; done; echo second
        """,
        log=on_line,
        timeout=5,
    )
    assert result.status == SUCCEEDED
    assert [line for line in seen if not line.startswith("[Container]")] == ["first", "second"]
    assert any(
        line.endswith("Running command echo first; while [ ! -f go ]; do sleep 0.01; done; echo second")
        for line in seen
    )


def test_log_can_be_a_text_stream(tmp_path: Path) -> None:
    stream = io.StringIO()
    result = build(tmp_path, "version: 0.2\nphases:\n  build:\n    commands: [echo hello]\n", log=stream)
    assert stream.getvalue() == result.log
    assert "\nhello\n" in stream.getvalue()


# --- validation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 0.1\nphases: {}\n", "version: 0.1 is the legacy format"),
        ("version: 0.3\nphases: {}\n", "version: expected 0.2, got number 0.3"),
        ("version: 0.2\n", "phases: is required"),
        ("phases: {build: {commands: [a]}}\n", "version: is required"),
        (
            "version: 0.2\nphases:\n  biuld:\n    commands: [a]\n",
            "phases.biuld: unknown phase; did you mean 'build'?",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands: [a, b, 7]\n",
            "phases.build.commands[2]: expected a string, got integer 7; quote it",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n",
            "phases.build.commands[0]: expected a string, got a mapping",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands: echo\n",
            "phases.build.commands: expected a list of strings",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    on-failure: abort\n",
            "phases.build.on-failure: unknown value 'abort'; did you mean 'ABORT'?",
        ),
        ("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-101\n", "retry count 101 is out of range"),
        (
            "version: 0.2\nphases:\n  build:\n    comands: [a]\n",
            "phases.build.comands: unknown key; did you mean 'commands'?",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    runtime-versions: {python: 3.12}\n",
            "phases.build.runtime-versions: runtime-versions is allowed only in the install phase",
        ),
        (
            "version: 0.2\nphases: {}\nreports:\n  unit:\n    base-directory: r\n",
            "reports.unit.files: is required",
        ),
        (
            "version: 0.2\nphases: {}\nreports:\n  unit:\n    files: [a]\n    file-format: JUNIT\n",
            "reports.unit.file-format: unknown format 'JUNIT'; did you mean 'JUNITXML'?",
        ),
        ("version: 0.2\nphases: {}\nartifacts:\n  name: x\n", "artifacts.files: is required"),
        (
            "version: 0.2\nphases: {}\nartifacts:\n  files: [a]\n  discard-paths: maybe\n",
            "artifacts.discard-paths: expected yes or no",
        ),
        (
            "version: 0.2\nphases: {}\nenv:\n  variables: {N: 1}\n",
            "env.variables.N: expected a string, got integer 1; quote it",
        ),
        (
            "version: 0.2\nphases: {}\nenv:\n  variables: {CODEBUILD_X: a}\n",
            "env.variables.CODEBUILD_X: names starting with CODEBUILD_ are reserved",
        ),
        (
            "version: 0.2\nphases: {}\nenv:\n  exported-variables: [AWS_X]\n",
            "env.exported-variables[0]: AWS_* variables cannot be exported",
        ),
        (
            "version: 0.2\nphases: {}\nenv:\n  shell: powershell.exe\n",
            "env.shell: powershell.exe runs only on Windows images",
        ),
        ("version: 0.2\nphases: {}\nenv:\n  shel: bash\n", "env.shel: unknown key; did you mean 'shell'?"),
        (
            "version: 0.2\nphases: {}\nenv:\n  secrets-manager: {S: 'id:key:AWSCURRENT:v1'}\n",
            "env.secrets-manager.S: give a version stage or a version id, not both",
        ),
        ("version: 0.2\nphase: {}\n", "phase: unknown key; did you mean 'phases'?"),
        (
            "version: 0.2\nphases: {}\nartifacts:\n  files: [a]\n  secondary-artifacts: {'../up': {files: [a]}}\n",
            "artifacts.secondary-artifacts.../up: an artifact identifier cannot be a path",
        ),
        ("version: 0.2\nphases: [build]\n", "phases: expected a mapping, got a list"),
        ("- version\n- phases\n", "expected a mapping with 'version' and 'phases', got a list"),
        ("version: 0.2\nphases: {build: {commands: [a]}\n", "invalid YAML"),
    ],
)
def test_validation_errors_name_the_key_path(text: str, expected: str) -> None:
    with pytest.raises(BuildspecError) as caught:
        load_buildspec(text, source="buildspec.yml")
    assert isinstance(caught.value, GitOpsError)
    assert any(
        problem.startswith("buildspec.yml: ") and expected in problem for problem in caught.value.problems
    ), caught.value.problems


def test_validation_reports_every_problem_and_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text("version: 0.2\nphases:\n  build:\n    commands: [1]\n  prebuild: {}\n", encoding="utf-8")
    with pytest.raises(BuildspecError) as caught:
        load_buildspec(path)
    assert caught.value.problems == [
        f"{path}: phases.build.commands[0]: expected a string, got integer 1; quote it",
        f"{path}: phases.prebuild: unknown phase; did you mean 'pre_build'?",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_yaml_syntax_error_has_a_line_number_and_missing_files_are_reported() -> None:
    with pytest.raises(BuildspecError, match=r"<buildspec>: line 4, column 1: invalid YAML"):
        load_buildspec("version: 0.2\nphases:\n  build: [\n")
    with pytest.raises(BuildspecError, match="cannot read the buildspec"):
        load_buildspec("no/such/buildspec.yml")


def test_a_valid_buildspec_is_parsed_into_its_parts() -> None:
    spec = load_buildspec(
        textwrap.dedent(
            """
            version: "0.2"
            env:
              shell: bash
              variables: {A: "1"}
              secrets-manager: {S: "arn:aws:secretsmanager:eu-west-1:1:secret:n-AbC:key"}
              exported-variables: [A]
            phases:
              install:
                runtime-versions: {python: 3.12}
                on-failure: RETRY-2-throttl.*
                commands: [a]
                finally: [b]
            artifacts:
              files: [x]
              discard-paths: yes
              secondary-artifacts:
                Other: {files: [y], base-directory: out}
            """
        )
    )
    assert spec.env.shell == "bash"
    ref = spec.env.secrets_manager["S"]
    assert (ref.secret_id, ref.json_key) == ("arn:aws:secretsmanager:eu-west-1:1:secret:n-AbC", "key")
    install = spec.phases["install"]
    assert (install.commands, install.finally_commands, install.on_failure) == (("a",), ("b",), "RETRY")
    assert install.retry is not None and (install.retry.count, install.retry.pattern) == (2, "throttl.*")
    assert install.runtime_versions == {"python": "3.12"}
    assert spec.artifacts is not None and spec.artifacts.discard_paths is True
    assert spec.secondary_artifacts["Other"].base_directory == "out"
