"""Facts about AWS taken from botocore's own data files, never from hand-written lists.

Loading botocore's SageMaker service model costs about 0.4 s, too much for a validate run that
should answer in well under a second. The enums we need are therefore extracted once per botocore
version and kept in a small JSON cache (``$MLOPS_GITOPS_CACHE_DIR``, else
``$XDG_CACHE_HOME/mlops-gitops``, else ``~/.cache/mlops-gitops``). A cache that can't be written
is not an error: the enums are then read from botocore on every run.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("MLOPS_GITOPS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlops-gitops"


def botocore_version() -> str:
    return metadata.version("botocore")


@cache
def service_enums(service: str) -> dict[str, tuple[str, ...]]:
    """Every enum shape of one AWS service model: shape name -> allowed values."""
    path = cache_dir() / f"enums-{service}-botocore-{botocore_version()}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: tuple(values) for name, values in data.items()}
    except (OSError, ValueError):
        pass
    enums = _enums_from_botocore(service)
    _write_quietly(path, json.dumps({k: list(v) for k, v in enums.items()}, sort_keys=True))
    return enums


def enum_values(shape: str, service: str = "sagemaker") -> tuple[str, ...]:
    """Allowed values of one enum shape; KeyError if botocore has no such enum."""
    return service_enums(service)[shape]


def _enums_from_botocore(service: str) -> dict[str, tuple[str, ...]]:
    import botocore.loaders  # deferred: only on a cache miss

    model = botocore.loaders.Loader().load_service_model(service, "service-2")
    return {
        name: tuple(shape["enum"])
        for name, shape in model["shapes"].items()
        if shape.get("type") == "string" and "enum" in shape
    }


def _write_quietly(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: parallel runs never see half a file
    except OSError:
        pass


@cache
def _partitions() -> list[dict]:
    spec = find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("botocore is not installed")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    return json.loads((data_dir / "partitions.json").read_text(encoding="utf-8"))["partitions"]


def partition_of_region(region: str) -> str | None:
    """The partition ('aws', 'aws-cn', ...) of a region botocore knows, or None.

    Regions newer than the installed botocore are refused too: a typo such as 'us-est-1' would
    otherwise pass as "a new region" and fail only at deploy time. Upgrading botocore fixes it.
    """
    for part in _partitions():
        if region in part["regions"]:
            return part["id"]
    return None


def known_regions() -> list[str]:
    return sorted(r for part in _partitions() for r in part["regions"] if not r.endswith("-global"))


def partitions() -> list[str]:
    return [part["id"] for part in _partitions()]
