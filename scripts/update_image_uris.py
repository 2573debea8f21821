"""Refresh scripts/mlops_gitops/data/image_uris.json from the SageMaker SDK's own image data.

The SageMaker Python SDK keeps, per framework, which ECR account serves each region and how image
tags are built (sagemaker-core's `image_uri_config/*.json`). Installing the SDK in CodeBuild would
pull pandas, scipy and more, so this script copies the data we need, trimmed and de-duplicated,
into the package. Run it when a new framework version or region matters:

    python scripts/update_image_uris.py            # downloads the newest sagemaker-core wheel
    python scripts/update_image_uris.py WHEEL.whl  # or reads a wheel you have

The output records the wheel it came from; a test keeps the resolver honest against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "mlops_gitops" / "data" / "image_uris.json"
# Frameworks and algorithms configs can name (model_framework), plus the monitor/processing images.
FRAMEWORKS = [
    "xgboost", "sklearn", "pytorch", "tensorflow", "mxnet", "huggingface", "autogluon",
    "sagemaker-tritonserver", "model-monitor", "clarify", "linear-learner", "knn", "kmeans", "pca",
    "factorization-machines", "forecasting-deepar", "randomcutforest", "object-detection",
    "image-classification", "semantic-segmentation", "blazingtext", "seq2seq", "ntm", "lda",
    "ipinsights", "object2vec",
]  # fmt: skip
KEEP = ("repository", "processors", "py_versions", "tag_prefix", "container_version")


def _wheel(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    tmp = Path(tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), "sagemaker-core"],
        check=True,
    )
    return next(tmp.glob("sagemaker_core-*.whl"))


def main(argv: list[str]) -> int:
    wheel = _wheel(argv)
    registries: list[dict[str, str]] = []
    frameworks: dict[str, dict] = {}

    def registry_id(table: dict[str, str]) -> int:
        if table not in registries:
            registries.append(table)
        return registries.index(table)

    with zipfile.ZipFile(wheel) as zf:
        for name in FRAMEWORKS:
            raw = json.loads(zf.read(f"sagemaker/core/image_uri_config/{name}.json"))
            scopes = {"inference": raw} if "versions" in raw else raw  # flat files hold one scope
            out: dict[str, dict] = {}
            for scope, body in scopes.items():
                if not isinstance(body, dict) or "versions" not in body:
                    continue
                versions = {}
                for version, entry in body["versions"].items():
                    if "registries" not in entry:
                        continue  # nested per-variant layouts we don't resolve
                    slim = {k: entry[k] for k in KEEP if k in entry}
                    slim["registry"] = registry_id(entry["registries"])
                    versions[version] = slim
                out[scope] = {
                    "version_aliases": body.get("version_aliases", {}),
                    "processors": body.get("processors", []),
                    "versions": versions,
                }
            frameworks[name] = out
    doc = {"source": wheel.name, "registries": registries, "frameworks": frameworks}
    OUT.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} from {wheel.name}: {len(frameworks)} frameworks, {len(registries)} registry tables")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
