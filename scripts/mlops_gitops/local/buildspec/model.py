"""The records of the local buildspec runner: the parsed buildspec (what :mod:`.spec` returns) and
the build's results (what :func:`mlops_gitops.local.buildspec.run_build` returns), with the phase
names and statuses they use. Plain data, no behaviour beyond small lookups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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
class BatchTask:
    """One build of a batch (``batch.build-graph`` / ``build-list`` entry): its identifier, its
    own buildspec (else the batch's), variables that override the buildspec's, what it waits for."""

    identifier: str
    buildspec: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    depend_on: tuple[str, ...] = ()
    ignore_failure: bool = False


@dataclass(frozen=True)
class BatchSpec:
    """The buildspec's ``batch`` section. ``kind``: build-graph, build-list, build-matrix or
    build-fanout; ``tasks`` hold the builds of a graph or a list (the kinds the local runner runs)."""

    kind: str
    tasks: tuple[BatchTask, ...] = ()
    fast_fail: bool = False


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
    batch: BatchSpec | None = None  # used only when the build is started as a batch


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
