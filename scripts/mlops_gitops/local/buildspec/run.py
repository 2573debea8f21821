"""The build: :func:`run_build` runs the phases in CodeBuild's order with CodeBuild's rules for a
failed phase (on-failure, finally, RETRY, the build timeout), then collects reports and artifacts."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from mlops_gitops.local.buildspec.artifacts import _collect_report, _upload
from mlops_gitops.local.buildspec.environment import _environment, _PhaseError
from mlops_gitops.local.buildspec.model import (
    DEFAULT_TIMEOUT,
    DOWNLOAD_SOURCE,
    FAILED,
    PHASE_ORDER,
    PHASE_TYPES,
    PHASES,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
    UPLOAD_ARTIFACTS,
    ArtifactResult,
    BuildResult,
    Buildspec,
    PhaseResult,
    PhaseSpec,
    ReportResult,
)
from mlops_gitops.local.buildspec.shell import _Log, _Shell

# --------------------------------------------------------------------------------------------------
# The build


def run_build(
    buildspec: Buildspec,
    *,
    src_dir: str | os.PathLike[str],
    project_name: str,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    source_version: str | None = None,
    resolved_source_version: str | None = None,
    initiator: str = "local",
    ssm_client: Any = None,
    secrets_client: Any = None,
    log: Callable[[str], None] | IO[str] | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    build_number: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    artifacts_dir: str | os.PathLike[str] | None = None,
    upload_artifacts_after_early_failure: bool = False,
    failing_finally_sees_zero: bool = True,
) -> BuildResult:
    """Run ``buildspec`` in ``src_dir`` as CodeBuild would and report what happened.

    Environment, lowest to highest precedence: ``base_env`` (default: this process's environment;
    ``HOME`` stays as it is there), the built-in ``AWS_*``/``CODEBUILD_*`` variables, the buildspec's
    ``env.variables`` (literal text, never expanded), its ``parameter-store`` and ``secrets-manager``
    values, then ``env`` (project and action variables, which beat the buildspec in CodeBuild).

    Phases run in the order INSTALL, PRE_BUILD, BUILD, POST_BUILD. A phase's ``commands`` stop at
    the first failing command and its ``finally`` block always runs. When a phase fails,
    CODEBUILD_BUILD_SUCCEEDING becomes 0 and the build will be FAILED; without ``on-failure``, an
    INSTALL or PRE_BUILD failure skips the rest while a BUILD failure still runs POST_BUILD;
    ``ABORT`` ends the build, ``CONTINUE`` goes on to the next phase, ``RETRY`` runs the phase again.
    UPLOAD_ARTIFACTS runs when BUILD ran, even if it failed. Report files are collected after the
    phases, whatever their outcome (not after a timeout). ``env.exported-variables`` are read once
    POST_BUILD is over: an exported or a plain shell variable, ``""`` when it was never set.

    Keyword-only knobs for what the reference marks UNCONFIRMED:
    ``upload_artifacts_after_early_failure``: also collect artifacts when INSTALL or PRE_BUILD failed;
    ``failing_finally_sees_zero``: a phase's ``finally`` block already sees SUCCEEDING=0 when the
    phase's commands failed (otherwise it changes once the phase is over).

    ``artifacts_dir``: the primary artifact is copied to ``<dir>/primary`` and each secondary one to
    ``<dir>/secondary/<identifier>``; without it the file lists are only returned. ``timeout`` is in
    seconds for the whole build; when it passes, the running command's process group is killed and
    the build is TIMED_OUT. ``log`` gets every log line as it happens (a callable, or a text stream).
    """
    started, clock = time.time(), time.monotonic()
    deadline = clock + timeout
    build_id = f"{project_name}:{uuid.uuid4()}"
    build_arn = f"arn:aws:codebuild:{region}:{account_id}:build/{build_id}"
    src = Path(src_dir).absolute()
    out = _Log(log)
    phases = {phase_type: PhaseResult(phase_type) for phase_type in PHASE_ORDER}
    reports: list[ReportResult] = []
    artifacts: list[ArtifactResult] = []
    timed_out = False

    build_env = _download_source(
        buildspec,
        src,
        out,
        phases[DOWNLOAD_SOURCE],
        base_env=os.environ if base_env is None else base_env,
        overrides=env or {},
        builtins=_builtins(
            region=region,
            build_id=build_id,
            build_arn=build_arn,
            build_number=build_number,
            src=src,
            initiator=initiator,
            started=started,
            source_version=source_version,
            resolved_source_version=resolved_source_version,
        ),
        ssm_client=ssm_client,
        secrets_client=secrets_client,
    )

    workdir = Path(tempfile.mkdtemp(prefix="mlops-buildspec-"))
    shell = _Shell(
        _shell_program(buildspec, build_env),
        build_env,
        str(src),
        workdir,
        out,
    )
    try:
        if phases[DOWNLOAD_SOURCE].status == SUCCEEDED:
            timed_out = _run_phases(buildspec, phases, shell, out, deadline, failing_finally_sees_zero)
            if not timed_out:
                reports = _collect_reports(buildspec, src, project_name, out)
                build_ran = phases["BUILD"].status != SKIPPED
                if build_ran or upload_artifacts_after_early_failure:
                    since = _begin(out, UPLOAD_ARTIFACTS)
                    artifacts = _upload(buildspec, src, artifacts_dir, phases[UPLOAD_ARTIFACTS])
                    _complete(out, phases[UPLOAD_ARTIFACTS], since)
        exported = {name: shell.variable(name) or "" for name in buildspec.env.exported_variables}
    finally:
        shell.kill_leftovers()
        shutil.rmtree(workdir, ignore_errors=True)

    status = _build_status(phases, timed_out)
    out.container(f"Build {status}")
    return BuildResult(
        build_id=build_id,
        build_arn=build_arn,
        build_number=build_number,
        status=status,
        phases=list(phases.values()),
        exported_variables=exported,
        reports=reports,
        artifacts=artifacts,
        log="\n".join(out.lines) + "\n",
        start_time=started,
        end_time=time.time(),
    )


def _begin(out: _Log, phase_type: str) -> float:
    out.container(f"Entering phase {phase_type}")
    return time.monotonic()


def _complete(out: _Log, result: PhaseResult, since: float) -> None:
    result.duration = time.monotonic() - since
    out.container(f"Phase complete: {result.phase_type} State: {result.status}")
    if result.message:
        out.container(f"Phase context status code: {result.message.replace(': ', ' Message: ', 1)}")


def _builtins(
    *,
    region: str,
    build_id: str,
    build_arn: str,
    build_number: int,
    src: Path,
    initiator: str,
    started: float,
    source_version: str | None,
    resolved_source_version: str | None,
) -> dict[str, str]:
    """The ``AWS_*`` and ``CODEBUILD_*`` variables of the build's environment."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "CODEBUILD_BUILD_ID": build_id,
        "CODEBUILD_BUILD_ARN": build_arn,
        "CODEBUILD_BUILD_NUMBER": str(build_number),
        "CODEBUILD_SRC_DIR": str(src),
        "CODEBUILD_INITIATOR": initiator,
        "CODEBUILD_START_TIME": str(int(started * 1000)),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        **({"CODEBUILD_SOURCE_VERSION": source_version} if source_version is not None else {}),
        **(
            {"CODEBUILD_RESOLVED_SOURCE_VERSION": resolved_source_version}
            if resolved_source_version is not None
            else {}
        ),
    }


def _download_source(
    buildspec: Buildspec,
    src: Path,
    out: _Log,
    download: PhaseResult,
    *,
    base_env: Mapping[str, str],
    overrides: Mapping[str, str],
    builtins: Mapping[str, str],
    ssm_client: Any,
    secrets_client: Any,
) -> dict[str, str]:
    """The DOWNLOAD_SOURCE phase; the build's starting environment (empty when the phase failed)."""
    # DOWNLOAD_SOURCE: the source is already in place; this is where CodeBuild resolves the environment.
    since = _begin(out, DOWNLOAD_SOURCE)
    out.container(f"CODEBUILD_SRC_DIR={src}")
    out.container(f"YAML location is {buildspec.source}")
    build_env: dict[str, str] = {}
    try:
        if not src.is_dir():
            raise _PhaseError("CLIENT_ERROR", f"source directory {src} does not exist")
        build_env, secrets = _environment(
            buildspec,
            out,
            base_env=base_env,
            overrides=overrides,
            builtins=builtins,
            ssm_client=ssm_client,
            secrets_client=secrets_client,
        )
        out.mask(secrets)
        download.status = SUCCEEDED
    except _PhaseError as exc:
        download.status, download.message = FAILED, str(exc)
    _complete(out, download, since)
    return build_env


def _shell_program(buildspec: Buildspec, build_env: Mapping[str, str]) -> str:
    """``/bin/sh``, or bash (found on the build's PATH) when ``env.shell`` is ``bash``."""
    program = "/bin/sh"
    if buildspec.env.shell == "bash":
        program = shutil.which("bash", path=build_env.get("PATH")) or "/bin/bash"
    return program


def _run_phases(
    buildspec: Buildspec,
    phases: Mapping[str, PhaseResult],
    shell: _Shell,
    out: _Log,
    deadline: float,
    failing_finally_sees_zero: bool,
) -> bool:
    """INSTALL to POST_BUILD with CodeBuild's rules for a failed phase; whether the build timed out."""
    if buildspec.run_as:
        out.container(f"run-as {buildspec.run_as!r} is not applied locally; commands run as this user")
    state = {"succeeding": "1"}
    for name in PHASES:
        phase_type = PHASE_TYPES[name]
        result = phases[phase_type]
        spec = buildspec.phases.get(name, PhaseSpec(name))
        since = _begin(out, phase_type)
        _run_phase(spec, result, shell, out, state, deadline, failing_finally_sees_zero)
        _complete(out, result, since)
        if result.status == TIMED_OUT:
            out.container("Build timed out")
            return True
        if result.status == SUCCEEDED:
            continue
        state["succeeding"] = "0"
        if spec.on_failure == "CONTINUE":
            continue
        if spec.on_failure == "ABORT" or name in ("install", "pre_build", "post_build"):
            break
    return False


def _collect_reports(buildspec: Buildspec, src: Path, project_name: str, out: _Log) -> list[ReportResult]:
    """Every report of the buildspec; a report group whose files match nothing is named in the log."""
    reports = [_collect_report(r, src, project_name) for r in buildspec.reports]
    for report in reports:
        if not report.files:
            out.container(f"Report group {report.group_name}: no files match {report.base_directory}")
    return reports


def _build_status(phases: Mapping[str, PhaseResult], timed_out: bool) -> str:
    if timed_out:
        return TIMED_OUT
    if any(p.status == FAILED for p in phases.values()):
        return FAILED
    return SUCCEEDED


def _run_commands(
    commands: Sequence[str], shell: _Shell, out: _Log, state: Mapping[str, str], deadline: float
) -> tuple[str, int | None, str | None]:
    """Run commands until one fails: (status, exit code, the failing command)."""
    for command in commands:
        out.container(f"Running command {command}")
        code = shell.run(command, {"CODEBUILD_BUILD_SUCCEEDING": state["succeeding"]}, deadline)
        if code is None:
            return TIMED_OUT, None, command
        if code != 0:
            out.container(f"Command did not exit successfully {command} exit status {code}")
            return FAILED, code, command
    return SUCCEEDED, 0, None


def _run_phase(
    spec: PhaseSpec,
    result: PhaseResult,
    shell: _Shell,
    out: _Log,
    state: dict[str, str],
    deadline: float,
    failing_finally_sees_zero: bool,
) -> None:
    """One phase: ``commands`` until the first failure, then always ``finally``; RETRY repeats it."""
    if spec.run_as:
        out.container(f"run-as {spec.run_as!r} is not applied locally; commands run as this user")
    if spec.runtime_versions:
        out.container("Skipping runtime-versions: the local runner uses the tools installed on this machine")
    before = state["succeeding"]
    while True:
        result.attempts += 1
        first_line = len(out.lines)
        state["succeeding"] = before
        status, code, command = _run_commands(spec.commands, shell, out, state, deadline)
        if status != TIMED_OUT:
            if status == FAILED and failing_finally_sees_zero:
                state["succeeding"] = "0"
            final_status, final_code, final_command = _run_commands(
                spec.finally_commands, shell, out, state, deadline
            )
            if final_status == TIMED_OUT or status == SUCCEEDED:
                status, code, command = final_status, final_code, final_command
        state["succeeding"] = before
        retry = spec.retry
        if status != FAILED or retry is None or result.attempts > retry.count:
            break
        output = "\n".join(out.lines[first_line:])
        if retry.pattern is not None and not re.search(retry.pattern, output):
            break
        out.container(f"Phase failed; retrying (attempt {result.attempts + 1} of {retry.count + 1})")
    result.status = status
    if status == FAILED:
        result.exit_code, result.failed_command = code, command
        result.message = (
            f"COMMAND_EXECUTION_ERROR: Error while executing command: {command}. Reason: exit status {code}"
        )
    elif status == TIMED_OUT:
        result.failed_command = command
        result.message = f"BUILD_TIMED_OUT: Build timed out while running: {command}"
    else:
        result.exit_code = 0
