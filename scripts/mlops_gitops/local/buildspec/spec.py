"""Run a CodeBuild buildspec (version 0.2) on this machine the way CodeBuild runs it.

moto's CodeBuild accepts ``start_build`` and never runs anything, and no pip-installable runner is
faithful (see the moto reference, section 7), so embedded mode runs buildspecs here.

The shell
    CodeBuild 0.2 keeps the shell's state from one command to the next and across phases: ``cd``,
    ``export`` and plain shell variables carry over. It does not keep one shell *process*: AWS writes
    each command to a script (logs show ``/codebuild/output/tmp/script.sh: line 4``), ``exit 0`` in one
    command does not stop the later ones, and the service team says arrays are not preserved between
    commands (aws/aws-cdk#26694). This runner does the same: every command is one process of the
    build's shell that first restores the state, then sources the command from its own file, then
    dumps the state (``pwd``, ``env -0`` for exported variables, and ``set`` plus ``eval``/``printf``
    for the values of unexported scalar variables) to a private directory for the next command. A
    command that ends the shell early (``exit``, ``set -e``) keeps the state from before it.
    Functions, aliases, traps, ``set`` options and arrays (beyond element 0) do not carry over.
    The shell is ``/bin/sh`` unless ``env.shell`` is ``bash``: CodeBuild runs Linux commands with sh
    (awsdocs/aws-codebuild-user-guide#65), which is dash on Ubuntu-based images, so ``[[`` fails there
    as it does on CodeBuild's standard images.

Output
    stdout and stderr of a command go to one pipe, like the single CloudWatch stream, and each line
    reaches the caller's ``log`` as soon as it is read. The runner's own lines look like CodeBuild's
    (``[Container] 2024/01/01 10:00:00.000001 Running command make``). Parameter Store and Secrets
    Manager values of three characters or more are masked as ``***`` in the log.

Processes
    Each command runs in its own process group. When the build timeout expires the running group is
    killed (SIGKILL) and the build is TIMED_OUT. Background processes a command leaves behind keep
    running during the build and are killed when it ends, as when CodeBuild removes the container.

Assumptions the reference marks UNCONFIRMED are keyword arguments of :func:`run_build` or are noted
where they are implemented.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import yaml

from mlops_gitops.errors import GitOpsError
from mlops_gitops.suggest import did_you_mean, one_of

PHASES = ("install", "pre_build", "build", "post_build")
PHASE_TYPES = {"install": "INSTALL", "pre_build": "PRE_BUILD", "build": "BUILD", "post_build": "POST_BUILD"}
DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"
UPLOAD_ARTIFACTS = "UPLOAD_ARTIFACTS"
PHASE_ORDER = (DOWNLOAD_SOURCE, *PHASE_TYPES.values(), UPLOAD_ARTIFACTS)

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
SKIPPED = "SKIPPED"
TIMED_OUT = "TIMED_OUT"

TEST_REPORT_FORMATS = ("CUCUMBERJSON", "JUNITXML", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX")
COVERAGE_REPORT_FORMATS = ("CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV")
DEFAULT_TIMEOUT = 60 * 60.0  # CodeBuild's default build timeout is 60 minutes

_TOP_KEYS = ("version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache")
_ENV_KEYS = (
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
)
_PHASE_KEYS = ("run-as", "on-failure", "commands", "finally")
_REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
_ARTIFACT_KEYS = (
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
)
_CACHE_KEYS = ("paths", "key", "fallback-keys", "action")
_SHELLS = {"bash": "bash", "/bin/sh": "/bin/sh"}
_WINDOWS_SHELLS = ("powershell.exe", "cmd.exe")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RETRY = re.compile(r"RETRY(?:-(\d+))?(?:-(.+))?\Z", re.DOTALL)
_POLL_SECONDS = 0.1
_MASK_MIN_LENGTH = 3


class BuildspecError(GitOpsError):
    """The buildspec is not valid version 0.2 (CodeBuild would fail the build with YAML_FILE_ERROR).

    ``problems`` holds one ``<file>: <key path>: <message>`` line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------------------------------
# The parsed buildspec


@dataclass(frozen=True)
class RetryPolicy:
    """``on-failure: RETRY[-<count>][-<regex>]``: run the phase again, up to ``count`` more times.

    UNCONFIRMED: the default count (3) is read as retries after the first try, and the regex is matched
    against the failed attempt's output; only when it matches is the phase retried."""

    count: int = 3
    pattern: str | None = None


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str | None = None  # ABORT, CONTINUE, RETRY or None
    retry: RetryPolicy | None = None
    run_as: str | None = None
    runtime_versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretRef:
    """``secret-id:json-key:version-stage:version-id``; only the secret id is required.

    The secret id may be an ARN, which has colons of its own (its first seven fields)."""

    reference: str
    secret_id: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


@dataclass(frozen=True)
class EnvSpec:
    shell: str = "/bin/sh"
    variables: Mapping[str, str] = field(default_factory=dict)
    parameter_store: Mapping[str, str] = field(default_factory=dict)
    secrets_manager: Mapping[str, SecretRef] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportSpec:
    name: str
    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    file_format: str = "JUNITXML"


@dataclass(frozen=True)
class ArtifactSpec:
    identifier: str | None  # None for the primary artifact
    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    exclude_paths: tuple[str, ...] = ()
    name: str | None = None
    enable_symlinks: bool = False
    s3_prefix: str | None = None


@dataclass(frozen=True)
class Buildspec:
    source: str  # the file name, or "<buildspec>" for text
    version: str
    phases: Mapping[str, PhaseSpec]
    env: EnvSpec = field(default_factory=EnvSpec)
    run_as: str | None = None
    reports: tuple[ReportSpec, ...] = ()
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: Mapping[str, ArtifactSpec] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Loading and validation


def load_buildspec(path_or_text: str | os.PathLike[str], *, source: str | None = None) -> Buildspec:
    """Parse and validate a buildspec. A ``Path`` (or a one-line string) is a file to read; a string
    with a line break is the YAML text itself, as in a project's inline buildspec.

    Raises :class:`BuildspecError` listing every problem with its key path, e.g.
    ``buildspec.yml: phases.build.commands[2]: expected a string, got integer 7; quote it``."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        text, name = path_or_text, source or "<buildspec>"
    else:
        path = Path(path_or_text)
        name = source or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BuildspecError([f"{name}: cannot read the buildspec: {exc.strerror or exc}"]) from None
        except UnicodeDecodeError as exc:
            raise BuildspecError([f"{name}: the buildspec is not UTF-8 text ({exc.reason})"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        raise BuildspecError([f"{name}: {where}invalid YAML: {what}"]) from None
    return _Parser(name).buildspec(document)


def _kind(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    if value is None:
        return "nothing (null)"
    kind = names.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if isinstance(value, bool | int | float) else f"a {kind}"


def _key(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


class _Parser:
    """Turns the YAML document into a :class:`Buildspec`, collecting every problem before raising."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    # --- generic shapes

    def mapping(
        self, value: Any, path: str, allowed: Sequence[str] | None = None, required: Sequence[str] = ()
    ) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_kind(value)}")
            return {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.problem(_key(path, key), f"keys must be strings, got {_kind(key)}")
            elif allowed is not None and key not in allowed:
                self.problem(_key(path, key), "unknown key; " + did_you_mean(key, allowed, one_of(allowed)))
            else:
                out[key] = item
        for key in required:
            if key not in value:
                self.problem(_key(path, key), "is required")
        return out

    def string(self, value: Any, path: str) -> str | None:
        if isinstance(value, str):
            return value
        hint = "; quote it" if isinstance(value, bool | int | float) else ""
        self.problem(path, f"expected a string, got {_kind(value)}{hint}")
        return None

    def strings(self, value: Any, path: str, *, single_ok: bool = False) -> tuple[str, ...]:
        if single_ok and isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            self.problem(path, f"expected a list of strings, got {_kind(value)}")
            return ()
        items = [self.string(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return tuple(item for item in items if item is not None)

    def flag(self, value: Any, path: str) -> bool:
        """``yes``/``no`` (YAML 1.1 reads them as booleans) or ``true``/``false``."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
            return value.lower() in ("yes", "true")
        self.problem(path, f"expected yes or no, got {_kind(value)}")
        return False

    def names(self, value: Any, path: str, what: str) -> dict[str, str]:
        """A mapping of environment variable names to string values."""
        out: dict[str, str] = {}
        for name, item in self.mapping(value, path).items():
            where = _key(path, name)
            if not _NAME.match(name):
                self.problem(where, f"{name!r} is not a valid environment variable name")
                continue
            if name.startswith("CODEBUILD_"):
                self.problem(where, "names starting with CODEBUILD_ are reserved by CodeBuild")
                continue
            text = self.string(item, where)
            if text is not None:
                if what and not text:
                    self.problem(where, f"expected {what}, got an empty string")
                    continue
                out[name] = text
        return out

    # --- sections

    def buildspec(self, document: Any) -> Buildspec:
        if not isinstance(document, dict):
            self.problem("", f"expected a mapping with 'version' and 'phases', got {_kind(document)}")
            raise BuildspecError(self.problems)
        top = self.mapping(document, "", _TOP_KEYS, required=("version", "phases"))
        version = self.version(top.get("version")) if "version" in top else "0.2"
        env = self.env(top.get("env"))
        phases_doc = self.mapping(top.get("phases"), "phases") if "phases" in top else {}
        phases: dict[str, PhaseSpec] = {}
        for name, body in phases_doc.items():
            if name not in PHASES:
                self.problem(f"phases.{name}", "unknown phase; " + did_you_mean(name, PHASES, one_of(PHASES)))
                continue
            phases[name] = self.phase(name, body)
        run_as = self.string(top["run-as"], "run-as") if "run-as" in top else None
        reports = self.reports(top.get("reports"))
        artifacts, secondary = self.artifacts(top["artifacts"]) if "artifacts" in top else (None, {})
        if "cache" in top:
            cache = self.mapping(top["cache"], "cache", _CACHE_KEYS, required=("paths",))
            if "paths" in cache:
                self.strings(cache["paths"], "cache.paths")
        for key in ("proxy", "batch"):
            if key in top:
                self.mapping(top[key], key)
        if self.problems:
            raise BuildspecError(self.problems)
        return Buildspec(
            source=self.source,
            version=version,
            phases={name: phases[name] for name in PHASES if name in phases},
            env=env,
            run_as=run_as,
            reports=reports,
            artifacts=artifacts,
            secondary_artifacts=secondary,
        )

    def version(self, value: Any) -> str:
        text = str(value) if isinstance(value, float | str) else None
        if text == "0.2":
            return text
        if text == "0.1":
            self.problem(
                "version", "0.1 is the legacy format (a new shell for every command); use version 0.2"
            )
        else:
            self.problem("version", f"expected 0.2, got {_kind(value)}")
        return "0.2"

    def env(self, value: Any) -> EnvSpec:
        if value is None:
            return EnvSpec()
        env = self.mapping(value, "env", _ENV_KEYS)
        shell = "/bin/sh"
        if "shell" in env:
            given = self.string(env["shell"], "env.shell")
            if given in _SHELLS:
                shell = _SHELLS[given]
            elif given in _WINDOWS_SHELLS:
                self.problem("env.shell", f"{given} runs only on Windows images; use bash or /bin/sh")
            elif given is not None:
                self.problem(
                    "env.shell", f"unknown shell {given!r}; " + did_you_mean(given, _SHELLS, one_of(_SHELLS))
                )
        variables = self.names(env.get("variables"), "env.variables", "")
        parameters = self.names(env.get("parameter-store"), "env.parameter-store", "a parameter name")
        secrets: dict[str, SecretRef] = {}
        for name, reference in self.names(
            env.get("secrets-manager"), "env.secrets-manager", "a secret id"
        ).items():
            ref = self.secret_ref(reference, f"env.secrets-manager.{name}")
            if ref is not None:
                secrets[name] = ref
        exported: tuple[str, ...] = ()
        if "exported-variables" in env:
            exported = self.strings(env["exported-variables"], "env.exported-variables")
            for i, name in enumerate(exported):
                where = f"env.exported-variables[{i}]"
                if not _NAME.match(name):
                    self.problem(where, f"{name!r} is not a valid environment variable name")
                elif name.startswith("AWS_"):
                    self.problem(where, "AWS_* variables cannot be exported")
        if "git-credential-helper" in env:
            self.flag(env["git-credential-helper"], "env.git-credential-helper")
        return EnvSpec(shell, variables, parameters, secrets, exported)

    def secret_ref(self, reference: str, path: str) -> SecretRef | None:
        parts = reference.split(":")
        head = 7 if reference.startswith("arn:") else 1
        if len(parts) < head or len(parts) > head + 3:
            self.problem(path, "expected secret-id[:json-key[:version-stage[:version-id]]]")
            return None
        secret_id = ":".join(parts[:head])
        rest = [*parts[head:], "", "", ""][:3]
        json_key, stage, version_id = (item or None for item in rest)
        if stage and version_id:
            self.problem(path, "give a version stage or a version id, not both")
            return None
        return SecretRef(reference, secret_id, json_key, stage, version_id)

    def phase(self, name: str, body: Any) -> PhaseSpec:
        path = f"phases.{name}"
        allowed = _PHASE_KEYS + (("runtime-versions",) if name == "install" else ())
        raw = self.mapping(body, path)
        doc: dict[str, Any] = {}
        for key, item in raw.items():
            if key == "runtime-versions" and name != "install":
                self.problem(f"{path}.{key}", "runtime-versions is allowed only in the install phase")
            elif key not in allowed:
                self.problem(f"{path}.{key}", "unknown key; " + did_you_mean(key, allowed, one_of(allowed)))
            else:
                doc[key] = item
        commands = self.strings(doc["commands"], f"{path}.commands") if "commands" in doc else ()
        finally_ = self.strings(doc["finally"], f"{path}.finally") if "finally" in doc else ()
        on_failure, retry = (
            self.on_failure(doc["on-failure"], f"{path}.on-failure") if "on-failure" in doc else (None, None)
        )
        run_as = self.string(doc["run-as"], f"{path}.run-as") if "run-as" in doc else None
        runtimes: dict[str, str] = {}
        for runtime, version in self.mapping(doc.get("runtime-versions"), f"{path}.runtime-versions").items():
            if isinstance(version, bool) or version is None:
                self.problem(
                    f"{path}.runtime-versions.{runtime}", f"expected a version, got {_kind(version)}"
                )
            else:
                runtimes[runtime] = str(version)
        return PhaseSpec(name, commands, finally_, on_failure, retry, run_as, runtimes)

    def on_failure(self, value: Any, path: str) -> tuple[str | None, RetryPolicy | None]:
        text = self.string(value, path)
        if text is None:
            return None, None
        if text in ("ABORT", "CONTINUE"):
            return text, None
        match = _RETRY.match(text)
        if match is None:
            choices = ("ABORT", "CONTINUE", "RETRY")
            self.problem(path, f"unknown value {text!r}; " + did_you_mean(text, choices, one_of(choices)))
            return None, None
        count = int(match.group(1)) if match.group(1) else 3
        if count > 100:
            self.problem(path, f"retry count {count} is out of range (0 to 100)")
        pattern = match.group(2)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.problem(path, f"invalid retry regex {pattern!r}: {exc}")
        return "RETRY", RetryPolicy(count, pattern)

    def reports(self, value: Any) -> tuple[ReportSpec, ...]:
        out = []
        for name, body in self.mapping(value, "reports").items():
            path = _key("reports", name)
            doc = self.mapping(body, path, _REPORT_KEYS, required=("files",))
            files = self.strings(doc["files"], f"{path}.files") if "files" in doc else ()
            base = (
                self.string(doc["base-directory"], f"{path}.base-directory")
                if "base-directory" in doc
                else None
            )
            discard = (
                self.flag(doc["discard-paths"], f"{path}.discard-paths") if "discard-paths" in doc else False
            )
            file_format = "JUNITXML"
            if "file-format" in doc:
                given = self.string(doc["file-format"], f"{path}.file-format")
                formats = TEST_REPORT_FORMATS + COVERAGE_REPORT_FORMATS
                if given is not None and given.upper() in formats:
                    file_format = given.upper()  # CodeBuild reads it case-insensitively
                elif given is not None:
                    self.problem(
                        f"{path}.file-format",
                        f"unknown format {given!r}; " + did_you_mean(given, formats, one_of(formats)),
                    )
            out.append(ReportSpec(name, files, base, discard, file_format))
        return tuple(out)

    def artifacts(self, value: Any) -> tuple[ArtifactSpec | None, dict[str, ArtifactSpec]]:
        # files is required even when only secondary artifacts are wanted.
        primary = self.artifact(value, "artifacts", None, _ARTIFACT_KEYS)
        doc = value if isinstance(value, dict) else {}
        secondary: dict[str, ArtifactSpec] = {}
        for identifier, body in self.mapping(
            doc.get("secondary-artifacts"), "artifacts.secondary-artifacts"
        ).items():
            path = f"artifacts.secondary-artifacts.{identifier}"
            if "/" in identifier or identifier in (".", ".."):
                self.problem(path, "an artifact identifier cannot be a path")  # it names a directory here
            secondary[identifier] = self.artifact(body, path, identifier, _ARTIFACT_KEYS[:-1])
        return primary, secondary

    def artifact(self, value: Any, path: str, identifier: str | None, allowed: Sequence[str]) -> ArtifactSpec:
        doc = self.mapping(value, path, allowed, required=("files",))
        files = self.strings(doc["files"], f"{path}.files") if "files" in doc else ()
        exclude = (
            self.strings(doc["exclude-paths"], f"{path}.exclude-paths", single_ok=True)
            if "exclude-paths" in doc
            else ()
        )

        def text(key: str) -> str | None:
            return self.string(doc[key], f"{path}.{key}") if key in doc else None

        def flag(key: str) -> bool:
            return self.flag(doc[key], f"{path}.{key}") if key in doc else False

        return ArtifactSpec(
            identifier=identifier,
            files=files,
            base_directory=text("base-directory"),
            discard_paths=flag("discard-paths"),
            exclude_paths=exclude,
            name=text("name"),
            enable_symlinks=flag("enable-symlinks"),
            s3_prefix=text("s3-prefix"),
        )


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class PhaseResult:
    """One entry of BatchGetBuilds' ``phases``: type, status, duration and, on failure, the context."""

    phase_type: str
    status: str = SKIPPED
    duration: float = 0.0
    exit_code: int | None = None
    failed_command: str | None = None
    message: str | None = None  # CodeBuild's phase context: "<status code>: <message>"
    attempts: int = 0


@dataclass(frozen=True)
class ReportFile:
    """One report file; for JUNITXML, its test counts or the reason it could not be read."""

    path: Path
    tests: int | None = None
    failures: int | None = None
    errors: int | None = None
    skipped: int | None = None
    error: str | None = None


@dataclass
class ReportResult:
    name: str  # the key in the buildspec
    group_name: str  # "<project>-<name>", or the ARN when the key is one
    file_format: str
    base_directory: Path
    files: list[ReportFile] = field(default_factory=list)

    def total(self, counter: str) -> int:
        """Sum of ``tests``, ``failures``, ``errors`` or ``skipped`` over the files that parsed."""
        return sum(getattr(f, counter) or 0 for f in self.files)


@dataclass
class ArtifactResult:
    identifier: str | None  # None for the primary artifact
    name: str | None
    files: list[tuple[Path, PurePosixPath]] = field(default_factory=list)  # (source file, path in artifact)
    directory: Path | None = None  # where the files were copied, when the caller gave artifacts_dir


@dataclass
class BuildResult:
    build_id: str
    build_arn: str
    build_number: int
    status: str
    phases: list[PhaseResult]
    exported_variables: dict[str, str]
    reports: list[ReportResult]
    artifacts: list[ArtifactResult]
    log: str
    start_time: float  # epoch seconds
    end_time: float

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def phase(self, phase_type: str) -> PhaseResult:
        """The result of ``INSTALL``, ``BUILD``... (also accepts the buildspec names ``pre_build``...)."""
        wanted = PHASE_TYPES.get(phase_type, phase_type)
        return next(p for p in self.phases if p.phase_type == wanted)

    def artifact(self, identifier: str | None = None) -> ArtifactResult | None:
        return next((a for a in self.artifacts if a.identifier == identifier), None)


# --------------------------------------------------------------------------------------------------
# Log


class _Log:
    """Collects the build log and streams every line to the caller as it is produced."""

    def __init__(self, sink: Callable[[str], None] | IO[str] | None) -> None:
        self.lines: list[str] = []
        self.masks: list[str] = []
        if sink is None or callable(sink):
            self._sink = sink
        else:
            stream = sink

            def write(line: str) -> None:
                stream.write(line + "\n")
                stream.flush()

            self._sink = write

    def line(self, text: str) -> None:
        for secret in self.masks:
            text = text.replace(secret, "***")
        self.lines.append(text)
        if self._sink is not None:
            self._sink(text)

    def container(self, message: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
        first, *rest = message.rstrip("\n").split("\n")
        self.line(f"[Container] {stamp} {first}")
        for text in rest:  # the other lines of a multi-line command: still marked as the runner's
            self.line(f"[Container] {text}")

    def mask(self, values: Iterable[str]) -> None:
        self.masks = sorted({v for v in values if len(v) >= _MASK_MIN_LENGTH}, key=len, reverse=True)


class _Lines:
    """Splits decoded output into lines for the log."""

    def __init__(self, log: _Log) -> None:
        self.log = log
        self.buffer = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        self.buffer += self.decoder.decode(data)
        *lines, self.buffer = self.buffer.split("\n")
        for text in lines:
            self.log.line(text.removesuffix("\r"))

    def close(self) -> None:
        self.buffer += self.decoder.decode(b"", final=True)
        if self.buffer:
            self.log.line(self.buffer.removesuffix("\r"))
        self.buffer = ""


# --------------------------------------------------------------------------------------------------
# The shell


# Variables the shells set for themselves (bash, dash): never carried from one command to the next.
_SHELL_OWNED = frozenset(
    "COLUMNS DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID FUNCNAME GROUPS HISTCMD HISTFILE HOSTNAME HOSTTYPE "
    "IFS LINENO LINES MACHTYPE MAILCHECK OLDPWD OPTARG OPTERR OPTIND OSTYPE PIPESTATUS PPID PS1 PS2 PS3 "
    "PS4 PWD RANDOM SECONDS SHELL SHELLOPTS SHLVL SRANDOM TERM UID _".split()
)
_SHELL_OWNED_PREFIXES = ("BASH", "COMP_", "__cb_")
_ENV_NOT_CARRIED = frozenset({"_", "SHLVL", "PWD"})

# Appended to every command. Restores nothing itself: it records the state the command left.
# `set` lists every variable; `eval`+`printf` prints each value NUL-terminated, whatever it contains.
_TRAILER = r"""
{ __cb_rc=$?; set +e +u +x +v +f +C; } 2>/dev/null
unset IFS
pwd >| @PWD_FILE@
@ENV@ -0 >| @ENV_FILE@
for __cb_n in $(set | while IFS= read -r __cb_l; do
  case $__cb_l in
    [A-Za-z_]*=*)
      __cb_n=${__cb_l%%=*}
      case $__cb_n in *[!A-Za-z0-9_]*) ;; *) printf '%s\n' "$__cb_n" ;; esac ;;
  esac
done); do
  eval "[ -n \"\${$__cb_n+x}\" ]" || continue
  eval "printf '%s=%s\\0' \"\$__cb_n\" \"\${$__cb_n}\""
done >| @VARS_FILE@
exit "$__cb_rc"
"""


def _split_nul(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            out[os.fsdecode(name)] = os.fsdecode(value)
    return out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Shell:
    """The build's shell state (exported environment, unexported variables, working directory),
    carried from command to command; see the module docstring for why one process per command."""

    def __init__(self, program: str, env: dict[str, str], cwd: str, workdir: Path, log: _Log) -> None:
        self.program = program
        self.env = env
        self.shell_vars: dict[str, str] = {}
        self.cwd = cwd
        self.workdir = workdir
        self.log = log
        self.process_groups: list[int] = []
        self._count = 0
        self._env_program = shutil.which("env") or "/usr/bin/env"

    def variable(self, name: str) -> str | None:
        return self.env.get(name, self.shell_vars.get(name))

    def run(self, command: str, overrides: Mapping[str, str], deadline: float) -> int | None:
        """Run one buildspec command; its exit status, or None when the build's deadline passed."""
        self._count += 1
        n = self._count
        state = self.workdir / f"state-{n}"
        state.mkdir()
        command_file = self.workdir / f"command-{n}.sh"
        command_file.write_bytes((command + "\n").encode("utf-8", "surrogateescape"))
        lines = [f"{name}={shlex.quote(value)}" for name, value in self.shell_vars.items()]
        lines.append(f". {shlex.quote(str(command_file))}")
        trailer = (
            _TRAILER.replace("@PWD_FILE@", shlex.quote(str(state / "pwd")))
            .replace("@ENV@", shlex.quote(self._env_program))
            .replace("@ENV_FILE@", shlex.quote(str(state / "env")))
            .replace("@VARS_FILE@", shlex.quote(str(state / "vars")))
        )
        script = self.workdir / f"script-{n}.sh"
        script.write_bytes(("\n".join(lines) + trailer).encode("utf-8", "surrogateescape"))
        env = {**self.env, **overrides, "PWD": self.cwd}
        cwd = self.cwd
        if not os.path.isdir(cwd):  # a command removed it; a shell would sit in a deleted directory
            parent = Path(cwd)
            while not parent.is_dir():
                parent = parent.parent
            self.log.container(f"Working directory {cwd} no longer exists; running in {parent}")
            cwd = self.cwd = env["PWD"] = str(parent)
        status = self._spawn([self.program, str(script)], env, cwd, deadline)
        if status is not None:
            self._load(state)
        return status

    def _spawn(self, argv: list[str], env: dict[str, str], cwd: str, deadline: float) -> int | None:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self.log.container(f"Cannot start the shell {argv[0]}: {exc}")
            return 127
        self._forget_empty_groups()
        self.process_groups.append(proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        lines = _Lines(self.log)
        with selectors.DefaultSelector() as selector, proc.stdout:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _kill_group(proc.pid)
                    proc.wait()
                    lines.close()
                    return None
                if proc.poll() is not None:
                    # The shell is gone. A background process may still hold the pipe: take what is
                    # there now instead of waiting for an end of file that may never come.
                    self._drain(fd, lines)
                    break
                if not selector.select(timeout=min(remaining, _POLL_SECONDS)):
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    lines.feed(data)
                    continue
                try:  # end of file: every writer has gone, the shell is exiting
                    proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
                except subprocess.TimeoutExpired:
                    _kill_group(proc.pid)
                    proc.wait()
                    lines.close()
                    return None
                break
        lines.close()
        code = proc.returncode
        return 128 - code if code < 0 else code

    @staticmethod
    def _drain(fd: int, lines: _Lines) -> None:
        for _ in range(256):  # bounded: a background writer could keep the pipe busy forever
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            lines.feed(data)

    def _load(self, state: Path) -> None:
        files = [state / "pwd", state / "env", state / "vars"]
        if not all(f.is_file() for f in files):
            return  # the command ended the shell (exit, set -e): the state stays as it was before it
        cwd = os.fsdecode(files[0].read_bytes().removesuffix(b"\n"))
        env = {k: v for k, v in _split_nul(files[1].read_bytes()).items() if k not in _ENV_NOT_CARRIED}
        if "SHLVL" in self.env:  # each command's shell adds one; keep the starting value
            env["SHLVL"] = self.env["SHLVL"]
        shell_vars = {
            k: v
            for k, v in _split_nul(files[2].read_bytes()).items()
            if k not in env
            and k not in _SHELL_OWNED
            and k not in _ENV_NOT_CARRIED
            and not k.startswith(_SHELL_OWNED_PREFIXES)
        }
        self.env, self.shell_vars = env, shell_vars
        if cwd:
            self.cwd = cwd

    def _forget_empty_groups(self) -> None:
        """Drop the groups with no process left: their ids may be reused by anyone from then on."""
        alive = []
        for pgid in self.process_groups:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:  # reused by another user's process: not ours any more
                continue
            alive.append(pgid)
        self.process_groups = alive

    def kill_leftovers(self) -> None:
        """Kill what the commands left running, as removing CodeBuild's container does. A group id
        is not reused while any member of the group lives, and empty groups are forgotten before
        each command, so this reaches only our processes."""
        self._forget_empty_groups()
        for pgid in self.process_groups:
            _kill_group(pgid)


# --------------------------------------------------------------------------------------------------
# Environment


class _PhaseError(Exception):
    """A phase failed for a reason of its own (not a command): status code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _parameters(names: Mapping[str, str], client: Any) -> dict[str, str]:
    """``env.parameter-store``: one ``GetParameters`` call (decrypted) per ten names. A name SSM does
    not know fails the build the way CodeBuild does: DOWNLOAD_SOURCE, "parameter does not exist"."""
    if client is None:
        raise _PhaseError(
            "Decrypted Variables Error", "no SSM client was given to resolve env.parameter-store"
        )
    wanted = list(dict.fromkeys(names.values()))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 10):
        chunk = wanted[start : start + 10]
        try:
            response = client.get_parameters(Names=chunk, WithDecryption=True)
        except Exception as exc:  # whatever the injected client raises becomes the phase's reason
            raise _PhaseError("Decrypted Variables Error", f"{type(exc).__name__}: {exc}") from None
        for parameter in response.get("Parameters", []):
            value = parameter.get("Value", "")
            name = parameter.get("Name", "")
            for key in (name, name + parameter.get("Selector", ""), parameter.get("ARN")):
                if key:
                    found[key] = value
        for name in chunk:
            if name not in found:
                raise _PhaseError("Decrypted Variables Error", f"parameter does not exist: {name}")
    return {variable: found[name] for variable, name in names.items()}


def _secrets(refs: Mapping[str, SecretRef], client: Any) -> dict[str, str]:
    """``env.secrets-manager``: ``GetSecretValue`` per reference; without a json-key the whole
    secret string, with one the key's value (JSON text when it is not a string)."""
    if client is None:
        raise _PhaseError(
            "Secrets Manager Error", "no Secrets Manager client was given to resolve env.secrets-manager"
        )
    out: dict[str, str] = {}
    for variable, ref in refs.items():
        request = {"SecretId": ref.secret_id}
        if ref.version_stage:
            request["VersionStage"] = ref.version_stage
        if ref.version_id:
            request["VersionId"] = ref.version_id
        try:
            response = client.get_secret_value(**request)
        except Exception as exc:  # whatever the injected client raises becomes the phase's reason
            raise _PhaseError(
                "Secrets Manager Error", f"{ref.reference}: {type(exc).__name__}: {exc}"
            ) from None
        secret = response.get("SecretString")
        if secret is None:
            secret = bytes(response.get("SecretBinary") or b"").decode("utf-8", "replace")
        if ref.json_key is None:
            out[variable] = secret
            continue
        try:
            document = json.loads(secret)
        except ValueError:
            raise _PhaseError("Secrets Manager Error", f"{ref.reference}: the secret is not JSON") from None
        if not isinstance(document, dict) or ref.json_key not in document:
            raise _PhaseError(
                "Secrets Manager Error", f"{ref.reference}: no key {ref.json_key!r} in the secret"
            )
        value = document[ref.json_key]
        out[variable] = value if isinstance(value, str) else json.dumps(value)
    return out


# --------------------------------------------------------------------------------------------------
# Paths: the glob dialect of artifacts and reports


def _segment_regex(segment: str) -> str:
    out, i = "", 0
    while i < len(segment):
        char = segment[i]
        end = -1
        if char == "[":
            j = i + 1
            j += segment[j : j + 1] == "!"
            j += segment[j : j + 1] == "]"  # a leading ] is part of the class
            end = segment.find("]", j)
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif end != -1:
            body = segment[i + 1 : end]
            negate = body.startswith("!")
            body = re.sub(r"([\\\[^])", r"\\\1", body[1:] if negate else body)
            out += "[" + ("^" if negate else "") + body + "]"
            i = end
        else:
            out += re.escape(char)
        i += 1
    return out


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` stay within one path segment, ``**`` spans any number of them (``**/*`` is
    everything). Dot files match like any other, and patterns are relative (``./`` is dropped)."""
    parts = [p for p in pattern.strip().split("/") if p not in ("", ".")]
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex + r"\Z", re.DOTALL)


def _entries(base: Path) -> dict[str, bool]:
    """Every path under ``base`` (relative, POSIX) → whether it is a directory."""
    out: dict[str, bool] = {}
    for root, dirs, files in os.walk(base):
        rel_root = Path(root).relative_to(base).as_posix()
        prefix = "" if rel_root == "." else rel_root + "/"
        for d in dirs:
            out[prefix + d] = not os.path.islink(os.path.join(root, d))
        for f in files:
            out[prefix + f] = False
    return out


def _select(entries: Mapping[str, bool], patterns: Iterable[str]) -> set[str]:
    """The files that match a pattern; a matched directory brings every file under it."""
    regexes = [_glob_regex(p) for p in patterns]
    matched = {path for path in entries if any(r.match(path) for r in regexes)}
    chosen: set[str] = set()
    for path, is_dir in entries.items():
        if is_dir:
            continue
        parts = path.split("/")
        if path in matched or any("/".join(parts[:i]) in matched for i in range(1, len(parts))):
            chosen.add(path)
    return chosen


def _base_directories(src: Path, base_directory: str | None) -> list[Path]:
    """``base-directory`` is relative to the source directory and may be a glob (``dist*``): each
    matching directory is a base, and the matched directories themselves are not in the artifact."""
    if not base_directory:
        return [src]
    if not any(c in base_directory for c in "*?["):
        base = src / base_directory
        return [base] if base.is_dir() else []
    regex = _glob_regex(base_directory)
    return [src / p for p, is_dir in sorted(_entries(src).items()) if is_dir and regex.match(p)]


def _artifact_files(spec: ArtifactSpec, src: Path) -> list[tuple[Path, PurePosixPath]]:
    """``files`` and ``exclude-paths`` are relative to each base; ``discard-paths`` keeps file names only."""
    out: list[tuple[Path, PurePosixPath]] = []
    for base in _base_directories(src, spec.base_directory):
        entries = _entries(base)
        chosen = _select(entries, spec.files) - _select(entries, spec.exclude_paths)
        for rel in sorted(chosen):
            dest = PurePosixPath(PurePosixPath(rel).name if spec.discard_paths else rel)
            out.append((base / rel, dest))
    return out


def _copy_artifact(files: list[tuple[Path, PurePosixPath]], target: Path, symlinks: bool) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for source, rel in files:
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        if symlinks and source.is_symlink():
            os.symlink(os.readlink(source), dest)
        else:
            shutil.copy2(source, dest)


def _junit_counts(path: Path) -> ReportFile:
    """Counts from the ``testcase`` elements (a failure, error or skipped child each count once);
    when a file has no test cases, the ``testsuite`` attributes are summed instead."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        return ReportFile(path, error=f"not readable JUnit XML: {exc}")
    cases = list(root.iter("testcase"))
    if cases:
        return ReportFile(
            path,
            tests=len(cases),
            failures=sum(1 for c in cases if c.find("failure") is not None),
            errors=sum(1 for c in cases if c.find("error") is not None),
            skipped=sum(1 for c in cases if c.find("skipped") is not None),
        )
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))

    def attr(name: str) -> int:
        total = 0
        for suite in suites:
            try:
                total += int(suite.get(name, "0") or 0)
            except ValueError:
                pass
        return total

    return ReportFile(
        path, tests=attr("tests"), failures=attr("failures"), errors=attr("errors"), skipped=attr("skipped")
    )


def _collect_report(spec: ReportSpec, src: Path, project_name: str) -> ReportResult:
    base = src / spec.base_directory if spec.base_directory else src
    group = spec.name if spec.name.startswith("arn:") else f"{project_name}-{spec.name}"
    result = ReportResult(spec.name, group, spec.file_format, base)
    if base.is_dir():
        for rel in sorted(_select(_entries(base), spec.files)):
            path = base / rel
            result.files.append(_junit_counts(path) if spec.file_format == "JUNITXML" else ReportFile(path))
    return result


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

    def begin(phase_type: str) -> float:
        out.container(f"Entering phase {phase_type}")
        return time.monotonic()

    def complete(result: PhaseResult, since: float) -> None:
        result.duration = time.monotonic() - since
        out.container(f"Phase complete: {result.phase_type} State: {result.status}")
        if result.message:
            out.container(f"Phase context status code: {result.message.replace(': ', ' Message: ', 1)}")

    # DOWNLOAD_SOURCE: the source is already in place; this is where CodeBuild resolves the environment.
    download = phases[DOWNLOAD_SOURCE]
    since = begin(DOWNLOAD_SOURCE)
    out.container(f"CODEBUILD_SRC_DIR={src}")
    out.container(f"YAML location is {buildspec.source}")
    build_env: dict[str, str] = {}
    try:
        if not src.is_dir():
            raise _PhaseError("CLIENT_ERROR", f"source directory {src} does not exist")
        build_env, secrets = _environment(
            buildspec,
            out,
            base_env=os.environ if base_env is None else base_env,
            overrides=env or {},
            builtins={
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
            },
            ssm_client=ssm_client,
            secrets_client=secrets_client,
        )
        out.mask(secrets)
        download.status = SUCCEEDED
    except _PhaseError as exc:
        download.status, download.message = FAILED, str(exc)
    complete(download, since)

    workdir = Path(tempfile.mkdtemp(prefix="mlops-buildspec-"))
    program = "/bin/sh"
    if buildspec.env.shell == "bash":
        program = shutil.which("bash", path=build_env.get("PATH")) or "/bin/bash"
    shell = _Shell(
        program,
        build_env,
        str(src),
        workdir,
        out,
    )
    try:
        if download.status == SUCCEEDED:
            if buildspec.run_as:
                out.container(
                    f"run-as {buildspec.run_as!r} is not applied locally; commands run as this user"
                )
            state = {"succeeding": "1"}
            for name in PHASES:
                phase_type = PHASE_TYPES[name]
                result = phases[phase_type]
                spec = buildspec.phases.get(name, PhaseSpec(name))
                since = begin(phase_type)
                _run_phase(spec, result, shell, out, state, deadline, failing_finally_sees_zero)
                complete(result, since)
                if result.status == TIMED_OUT:
                    timed_out = True
                    out.container("Build timed out")
                    break
                if result.status == SUCCEEDED:
                    continue
                state["succeeding"] = "0"
                if spec.on_failure == "CONTINUE":
                    continue
                if spec.on_failure == "ABORT" or name in ("install", "pre_build", "post_build"):
                    break
            if not timed_out:
                reports = [_collect_report(r, src, project_name) for r in buildspec.reports]
                for report in reports:
                    if not report.files:
                        out.container(
                            f"Report group {report.group_name}: no files match {report.base_directory}"
                        )
                build_ran = phases["BUILD"].status != SKIPPED
                if build_ran or upload_artifacts_after_early_failure:
                    since = begin(UPLOAD_ARTIFACTS)
                    artifacts = _upload(buildspec, src, artifacts_dir, phases[UPLOAD_ARTIFACTS])
                    complete(phases[UPLOAD_ARTIFACTS], since)
        exported = {name: shell.variable(name) or "" for name in buildspec.env.exported_variables}
    finally:
        shell.kill_leftovers()
        shutil.rmtree(workdir, ignore_errors=True)

    if timed_out:
        status = TIMED_OUT
    elif any(p.status == FAILED for p in phases.values()):
        status = FAILED
    else:
        status = SUCCEEDED
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


def _environment(
    buildspec: Buildspec,
    out: _Log,
    *,
    base_env: Mapping[str, str],
    overrides: Mapping[str, str],
    builtins: Mapping[str, str],
    ssm_client: Any,
    secrets_client: Any,
) -> tuple[dict[str, str], list[str]]:
    """The build's starting environment and the values to mask (see :func:`run_build` for the order)."""
    out.container("Processing environment variables")
    env = {**base_env, **builtins, **buildspec.env.variables}
    hidden: list[str] = []
    if buildspec.env.parameter_store:
        out.container("Decrypting parameter store environment variables")
        values = _parameters(buildspec.env.parameter_store, ssm_client)
        env.update(values)
        hidden.extend(values.values())
    if buildspec.env.secrets_manager:
        values = _secrets(buildspec.env.secrets_manager, secrets_client)
        env.update(values)
        hidden.extend(values.values())
    env.update(overrides)
    return env, hidden


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


def _upload(
    buildspec: Buildspec, src: Path, artifacts_dir: str | os.PathLike[str] | None, result: PhaseResult
) -> list[ArtifactResult]:
    """UPLOAD_ARTIFACTS: an artifact whose ``files`` match nothing fails the phase, as in CodeBuild
    ("no matching artifact paths found")."""
    specs = [s for s in (buildspec.artifacts, *buildspec.secondary_artifacts.values()) if s is not None]
    out: list[ArtifactResult] = []
    missing: list[str] = []
    for spec in specs:
        files = _artifact_files(spec, src)
        artifact = ArtifactResult(spec.identifier, spec.name, files)
        if not files:
            missing.append(spec.identifier or "primary")
        elif artifacts_dir is not None:
            sub = ("primary",) if spec.identifier is None else ("secondary", spec.identifier)
            artifact.directory = Path(artifacts_dir).joinpath(*sub)
            _copy_artifact(files, artifact.directory, spec.enable_symlinks)
        out.append(artifact)
    if missing:
        result.status = FAILED
        result.message = f"CLIENT_ERROR: no matching artifact paths found ({', '.join(missing)})"
    else:
        result.status = SUCCEEDED
    return out
