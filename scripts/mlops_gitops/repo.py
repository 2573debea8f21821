"""Where things are in a mlops-gitops repository."""

from __future__ import annotations

import difflib
import errno
import os
import stat
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlops_gitops.errors import RepoError
from mlops_gitops.findings import WARNING, Finding

CONFIGS_DIR = "pipeline-configs"
CONFIG_FILE = "mlops-config.json"
ENVIRONMENTS_FILE = "environments.json"
SCHEMA_SUFFIX = ".schema.json"
_NESTED_DEPTH = 6  # how deep below a pipeline folder misplaced configs are looked for


class OutsideRepo(ValueError):
    """A path resolves to somewhere outside the repository root (or cannot be resolved)."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


@dataclass(frozen=True)
class ConfigEntry:
    """One folder under pipeline-configs/: a pipeline, whatever state its config is in."""

    pipeline_id: str
    path: Path  # pipeline-configs/<id>/mlops-config.json, as written (not resolved)
    real: Path | None  # the regular file inside the repository it resolves to; None: unusable


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def configs_dir(self) -> Path:
        return self.root / CONFIGS_DIR

    @property
    def environments_file(self) -> Path:
        return self.configs_dir / ENVIRONMENTS_FILE

    def config_files(self) -> list[Path]:
        """The configs deploy reads: pipeline-configs/<id>/mlops-config.json that resolve to a
        regular file inside the repository, each file once (see ``scan`` for the rest)."""
        return [e.path for e in self.scan()[0] if e.real is not None]

    def pipeline_ids(self) -> list[str]:
        """Every pipeline folder, whether or not its config can be read: a folder that exists is a
        pipeline (never one that is gone)."""
        return [e.pipeline_id for e in self.scan()[0]]

    # ------------------------------------------------------------ the boundary

    def resolve_inside(self, path: Path, what: str = "the file") -> Path:
        """``path`` with every link followed, if that is a regular file inside the repository.
        Raises OutsideRepo otherwise; the message never shows where a link points, nor content."""
        try:
            real = Path(os.path.realpath(path, strict=True))
        except (OSError, RuntimeError) as exc:
            return _raise_unresolvable(path, what, exc)
        if not real.is_relative_to(_resolved(self.root)):
            raise OutsideRepo(
                "outside-repository",
                f"{what} is a link that leads outside the repository; nothing outside it is read",
                "replace the link with the file itself",
            )
        try:
            mode = os.stat(real).st_mode
        except OSError as exc:
            return _raise_unresolvable(path, what, exc)
        if stat.S_ISDIR(mode):
            raise OutsideRepo(
                "not-a-file",
                f"{what} is a folder, not a file",
                f"move its contents out and write {path.name} as a JSON file",
            )
        if not stat.S_ISREG(mode):
            raise OutsideRepo(
                "not-a-file",
                f"{what} is not a regular file (a device, pipe or socket)",
                "replace it with a regular JSON file",
            )
        return real

    def scan(self) -> tuple[list[ConfigEntry], list[Finding]]:
        """Every pipeline folder, and a finding for everything under pipeline-configs/ (and beside
        it) that looks like a config deploy will not read. Nothing is read, only listed."""
        entries: list[ConfigEntry] = []
        findings: list[Finding] = []
        for child in _children(self.configs_dir):
            name = child.name
            if name.startswith("."):
                continue
            if not _is_dir(child):
                if (
                    name.lower().endswith(".json")
                    and name != ENVIRONMENTS_FILE
                    and not name.endswith(SCHEMA_SUFFIX)
                ):
                    stem = name[: -len(".json")]
                    findings.append(
                        Finding(
                            self.display_lexical(child),
                            "$",
                            "misplaced",
                            f"{name!r} sits directly in {CONFIGS_DIR}/ and is never read or deployed",
                            f"a pipeline's config is {CONFIGS_DIR}/<id>/{CONFIG_FILE}: move it to "
                            f"{CONFIGS_DIR}/{stem}/{CONFIG_FILE}",
                            severity=WARNING,
                        )
                    )
                continue
            path = child / CONFIG_FILE
            display = self.display_lexical(path)
            real: Path | None = None
            try:
                if _is_link(child):
                    self.resolve_folder(child)
                if not os.path.lexists(path):
                    findings.append(self._missing(child, display))
                else:
                    real = self.resolve_inside(path, f"{CONFIG_FILE} in {name}/")
            except OutsideRepo as exc:
                findings.append(Finding(display, "$", exc.code, exc.message, exc.hint, pipeline_id=name))
            entries.append(ConfigEntry(name, path, real))
            if not _is_link(child):
                findings.extend(self._nested(child, name))
        findings.extend(self._duplicates(entries))
        entries = [
            e
            if not any(f.code == "duplicate" and f.pipeline_id == e.pipeline_id for f in findings)
            else ConfigEntry(e.pipeline_id, e.path, None)
            for e in entries
        ]
        findings.extend(self._siblings())
        return entries, findings

    def _duplicates(self, entries: list[ConfigEntry]) -> list[Finding]:
        """Folders whose configs are one file (through a link): the one reached without a link
        keeps it, every other is a duplicate finding naming both."""
        groups: dict[Path, list[ConfigEntry]] = {}
        for e in entries:
            if e.real is not None:
                groups.setdefault(e.real, []).append(e)
        out = []
        for group in groups.values():
            if len(group) < 2:
                continue
            direct = [e for e in group if not _is_link(e.path.parent) and not _is_link(e.path)]
            owner = (direct or group)[0]
            for e in group:
                if e is owner:
                    continue
                out.append(
                    Finding(
                        self.display_lexical(e.path),
                        "$",
                        "duplicate",
                        f"pipeline folder {e.pipeline_id!r} is the same config as {owner.pipeline_id!r} "
                        f"({CONFIGS_DIR}/{owner.pipeline_id}/{CONFIG_FILE}), reached through a link",
                        "a pipeline is one folder: remove the link, or copy the config if a second "
                        "pipeline is meant",
                        pipeline_id=e.pipeline_id,
                    )
                )
        return out

    def resolve_folder(self, folder: Path) -> Path:
        try:
            real = Path(os.path.realpath(folder, strict=True))
        except (OSError, RuntimeError) as exc:
            return _raise_unresolvable(folder, f"the folder {folder.name}/", exc)
        if not real.is_relative_to(_resolved(self.root)):
            raise OutsideRepo(
                "outside-repository",
                f"the folder {folder.name}/ is a link that leads outside the repository; nothing outside "
                "it is read",
                "replace the link with the folder itself",
            )
        return real

    def _missing(self, folder: Path, display: str) -> Finding:
        found = [c.name for c in _children(folder) if not c.name.startswith(".")]
        # what a misnamed config usually looks like: mlops_config.json, mlops-config.JSON, config.json
        near = difflib.get_close_matches(CONFIG_FILE, found, n=1, cutoff=0.6)
        jsons = [n for n in found if n.lower().endswith((".json", ".jsn", ".json5"))]
        candidate = near[0] if near else jsons[0] if len(jsons) == 1 else None
        if candidate is not None:
            message = f"the folder {folder.name}/ has no {CONFIG_FILE}, but holds {candidate!r}"
            hint = f"rename {candidate!r} to {CONFIG_FILE}"
        elif found:
            shown = ", ".join(repr(n) for n in found[:5]) + (", ..." if len(found) > 5 else "")
            message = f"the folder {folder.name}/ has no {CONFIG_FILE} (it holds {shown})"
            hint = f"add {CONFIG_FILE}, or delete the folder to retire the pipeline"
        else:
            message = f"the folder {folder.name}/ is empty: it has no {CONFIG_FILE}"
            hint = f"add {CONFIG_FILE}, or delete the folder to retire the pipeline"
        return Finding(display, "$", "config-missing", message, hint, pipeline_id=folder.name)

    def _nested(self, folder: Path, pipeline_id: str) -> list[Finding]:
        """mlops-config.json files deeper than pipeline-configs/<id>/: never deployed."""
        out = []
        base_depth = len(folder.parts)
        for here, dirs, files in os.walk(folder, followlinks=False):
            depth = len(Path(here).parts) - base_depth
            if depth >= _NESTED_DEPTH:
                dirs[:] = []
            dirs.sort()
            if depth >= 1 and CONFIG_FILE in files:
                path = Path(here) / CONFIG_FILE
                out.append(
                    Finding(
                        self.display_lexical(path),
                        "$",
                        "misplaced",
                        f"this config is nested inside pipeline {pipeline_id!r} and is never deployed: "
                        f"deploy reads {CONFIGS_DIR}/<id>/{CONFIG_FILE} only",
                        f"move it to {CONFIGS_DIR}/<new-id>/{CONFIG_FILE}, or delete it",
                        severity=WARNING,
                        pipeline_id=pipeline_id,
                    )
                )
        return out

    def _siblings(self) -> list[Finding]:
        """A misspelt pipeline-configs/ beside the real one (pipeline-config/, pipeline_configs/)
        holding configs that are never deployed."""
        out = []
        for child in _children(self.root):
            name = child.name
            if name == CONFIGS_DIR or name.startswith(".") or _is_link(child) or not _is_dir(child):
                continue
            if difflib.SequenceMatcher(None, name.lower(), CONFIGS_DIR).ratio() < 0.8:
                continue
            for sub in _children(child):
                path = sub / CONFIG_FILE
                if _is_dir(sub) and not _is_link(sub) and os.path.lexists(path):
                    out.append(
                        Finding(
                            self.display_lexical(path),
                            "$",
                            "misplaced",
                            f"this config is in {name}/, not {CONFIGS_DIR}/, and is never deployed",
                            f"move it to {CONFIGS_DIR}/{sub.name}/{CONFIG_FILE}",
                            severity=WARNING,
                        )
                    )
        return out

    def contains_lexically(self, path: Path) -> bool:
        """``path``, without following links, is under the repository root."""
        absolute = Path(os.path.abspath(path))
        return any(
            absolute.is_relative_to(r) for r in (Path(os.path.abspath(self.root)), _resolved(self.root))
        )

    def display_lexical(self, path: Path) -> str:
        """``path`` relative to the root without following links (a link's own name is shown)."""
        absolute = Path(os.path.abspath(path))
        for root in (Path(os.path.abspath(self.root)), _resolved(self.root)):
            if absolute.is_relative_to(root):
                return absolute.relative_to(root).as_posix()
        return str(path)

    def display(self, path: Path) -> str:
        """The path as findings show it: relative to the repository root when inside it."""
        root = _resolved(self.root)
        try:
            return (
                path.relative_to(root).as_posix()
                if path.is_absolute() and path.is_relative_to(root)
                else path.resolve().relative_to(root).as_posix()
            )
        except ValueError:
            return str(path)


@cache
def _resolved(path: Path) -> Path:
    return path.resolve()


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder))
    except OSError:
        return []


def _is_link(path: Path) -> bool:
    return os.path.islink(path)


def _is_dir(path: Path) -> bool:
    """A folder, or a link that is meant as one (even if it is dangling or a loop: checked later)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    if stat.S_ISDIR(mode):
        return True
    if stat.S_ISLNK(mode):
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            return not path.name.lower().endswith(".json")  # a broken link named like a folder
    return False


def _raise_unresolvable(path: Path, what: str, exc: BaseException) -> Path:
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        raise OutsideRepo(
            "link-loop", f"{what} is a symbolic link loop", "replace the link with the file itself"
        )
    if os.path.islink(path) or not os.path.exists(path):
        raise OutsideRepo(
            "dangling-link",
            f"{what} is a symbolic link to something that does not exist",
            "replace the link with the file itself",
        )
    raise OutsideRepo(
        "file-unreadable",
        f"{what} cannot be read: {getattr(exc, 'strerror', None) or exc}",
        "check it exists and is readable",
    )


def find_repo(start: Path | None = None, explicit: Path | None = None) -> Repo:
    """The nearest folder holding pipeline-configs/, from ``start`` upwards (or ``explicit``)."""
    if explicit is not None:
        if not (explicit / CONFIGS_DIR).is_dir():
            raise RepoError(f"--repo-root {explicit}: no {CONFIGS_DIR}/ folder there")
        return Repo(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIGS_DIR).is_dir():
            return Repo(folder)
    raise RepoError(
        f"no {CONFIGS_DIR}/ folder in {here} or any parent; run mlopsctl inside a mlops-gitops repository, "
        "or pass --repo-root"
    )


def git_head(root: Path) -> str | None:
    """The commit checked out in ``root``, or None outside git (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
