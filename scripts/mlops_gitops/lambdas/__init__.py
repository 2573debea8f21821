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
