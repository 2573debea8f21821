"""Artifacts and reports: the glob dialect of their ``files``, copying artifacts, and the test counts
of JUnit report files."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from mlops_gitops.local.buildspec.model import (
    FAILED,
    SUCCEEDED,
    ArtifactResult,
    ArtifactSpec,
    Buildspec,
    PhaseResult,
    ReportFile,
    ReportResult,
    ReportSpec,
)

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
