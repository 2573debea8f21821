"""Loading and validating a buildspec (version 0.2): the YAML document, its phases, env, reports and
artifacts, into the records of :mod:`.model`, with every problem listed by its key path."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlops_gitops.errors import GitOpsError
from mlops_gitops.local.buildspec.model import (
    COVERAGE_REPORT_FORMATS,
    PHASES,
    TEST_REPORT_FORMATS,
    ArtifactSpec,
    BatchSpec,
    BatchTask,
    Buildspec,
    EnvSpec,
    PhaseSpec,
    ReportSpec,
    RetryPolicy,
    SecretRef,
)
from mlops_gitops.suggest import did_you_mean, one_of

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


class BuildspecError(GitOpsError):
    """The buildspec is not valid version 0.2 (CodeBuild would fail the build with YAML_FILE_ERROR).

    ``problems`` holds one ``<file>: <key path>: <message>`` line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


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
        if "proxy" in top:
            self.mapping(top["proxy"], "proxy")
        batch = _batch(self, top["batch"]) if "batch" in top else None
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
            batch=batch,
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


_BATCH_KINDS = ("build-graph", "build-list", "build-matrix", "build-fanout")
_TASK_KEYS = ("identifier", "buildspec", "env", "depend-on", "ignore-failure", "debug-session")


def _batch(parser: _Parser, value: Any) -> BatchSpec | None:
    """``batch``: fast-fail and one kind of batch; for a graph or a list, its builds.
    https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html"""
    top = parser.mapping(value, "batch", ("fast-fail", *_BATCH_KINDS))
    kinds = [k for k in _BATCH_KINDS if k in top]
    if len(kinds) != 1:
        parser.problem("batch", f"expected exactly one of {', '.join(_BATCH_KINDS)}")
        return None
    kind = kinds[0]
    fast_fail = top.get("fast-fail", False)
    if not isinstance(fast_fail, bool):
        parser.problem("batch.fast-fail", f"expected true or false, got {_kind(fast_fail)}")
    if kind not in ("build-graph", "build-list"):
        return BatchSpec(kind, (), fast_fail is True)
    entries = top[kind]
    if not isinstance(entries, list) or not entries:
        parser.problem(f"batch.{kind}", f"expected a non-empty list of builds, got {_kind(entries)}")
        return None
    tasks = []
    for index, entry in enumerate(entries):
        path = f"batch.{kind}[{index}]"
        task = parser.mapping(entry, path, _TASK_KEYS)
        ident = task.get("identifier")
        if not isinstance(ident, str) or not _NAME.match(ident):
            parser.problem(
                f"{path}.identifier", "required: letters, digits and underscores, not starting with a digit"
            )
            continue
        env = task.get("env") if isinstance(task.get("env"), dict) else {}
        variables = env.get("variables") if isinstance(env.get("variables"), dict) else {}
        depend = task.get("depend-on", [])
        if kind == "build-list" and "depend-on" in task:
            parser.problem(f"{path}.depend-on", "only a build-graph's builds depend on others")
        tasks.append(
            BatchTask(
                ident,
                task.get("buildspec") if isinstance(task.get("buildspec"), str) else None,
                {str(k): str(v) for k, v in variables.items()},
                tuple(str(d) for d in depend) if isinstance(depend, list) else (),
                task.get("ignore-failure") is True,
            )
        )
    known = [t.identifier for t in tasks]
    if len(set(known)) != len(known):
        parser.problem(f"batch.{kind}", f"identifiers repeat: {known}")
    for t in tasks:
        for dep in t.depend_on:
            if dep not in known:
                parser.problem(
                    f"batch.{kind}", f"{t.identifier} depends on {dep!r}, which is no build of the batch"
                )
    return BatchSpec(kind, tuple(tasks), fast_fail is True)
