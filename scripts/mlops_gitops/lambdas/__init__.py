"""Lambda functions the pipeline templates deploy, and their content-addressed packaging.

Each function is one standalone module here (standard library and boto3 only, as the Lambda
runtime provides). ``package(name)`` zips it deterministically, so the same code always gives the
same bytes, the same SHA-256 and the same S3 key: ``lambda/<name>-<first 16 hex of sha256>.zip``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources

FUNCTIONS = ("inference_api", "event_aggregator")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: zips do not change with file mtimes


@dataclass(frozen=True)
class LambdaZip:
    name: str
    data: bytes
    sha256: str

    @property
    def key(self) -> str:
        return f"lambda/{self.name.replace('_', '-')}-{self.sha256[:16]}.zip"


@cache
def package(name: str) -> LambdaZip:
    if name not in FUNCTIONS:
        raise KeyError(f"no Lambda function {name!r}; known: {', '.join(FUNCTIONS)}")
    source = resources.files(__name__).joinpath(f"{name}.py").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{name}.py", date_time=_EPOCH)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, source)
    data = buf.getvalue()
    return LambdaZip(name, data, hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------ the provisioning API

# The provisioning API's function runs the package itself (config's validator, ops/provision), so
# its zip is the whole package, Python files and data, deterministic like the others. Its
# third-party imports are jsonschema (with referencing, rpds-py, attrs) and PyYAML; rpds-py and
# PyYAML's C loader are compiled, so they ship as a layer built for the Lambda runtime (pip
# --platform manylinux2014_x86_64 --only-binary=:all:, docs/operators.md), never from this machine's
# site-packages. boto3 and botocore come with the runtime. cfn-lint (about 40 MB) is left out:
# without it the physical-name limits are not checked in the function, and the pipeline's Validate
# stage and pr-check still check them.
PROVISIONING_API = "provisioning_api"
_PACKAGE_SUFFIXES = (".py", ".json", ".typed")


@cache
def package_provisioning() -> LambdaZip:
    root = resources.files("mlops_gitops")
    files: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}/{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name)
            elif child.name.endswith(_PACKAGE_SUFFIXES):
                files[name] = child.read_bytes()

    walk(root, "mlops_gitops")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    data = buf.getvalue()
    return LambdaZip(PROVISIONING_API, data, hashlib.sha256(data).hexdigest())
