"""The files the smoke's pipelines read, made here so a run needs nothing but an account.

The data is a hundred made-up rows (churned, tenure_months, monthly_spend, support_calls), the
same on every run. ``fixtures/xgboost-model.json`` is a three-tree XGBoost model trained on them
with xgboost 1.7.6 (the version of SageMaker's 1.7-1 image), kept as JSON so it can be reviewed;
the image loads it from a file named ``xgboost-model`` whatever its format. Regenerate it with
``python -m tests.smoke.fixtures`` in an environment that has xgboost 1.7."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from pathlib import Path

MODEL = Path(__file__).with_name("fixtures") / "xgboost-model.json"
FEATURES = ("tenure_months", "monthly_spend", "support_calls")
# A base image from AWS's public gallery: CodeBuild's pulls from Docker Hub are rate-limited
# (https://docs.aws.amazon.com/AmazonECR/latest/public/docker-pull-ecr-image.html).
BASE_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


def rows(count: int = 100) -> list[tuple[int, int, float, int]]:
    """(label, tenure, spend, calls): churn when many support calls or a short tenure."""
    rng = random.Random(7)
    out = []
    for _ in range(count):
        tenure, spend, calls = rng.randint(1, 72), round(rng.uniform(10, 120), 2), rng.randint(0, 9)
        out.append((1 if calls > 5 or tenure < 6 else 0, tenure, spend, calls))
    return out


def _csv(lines: list[tuple], header: tuple[str, ...] | None = None) -> bytes:
    text = [",".join(header)] if header else []
    text += [",".join(str(v) for v in line) for line in lines]
    return ("\n".join(text) + "\n").encode()


def _model_tar() -> bytes:
    data = MODEL.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _source_dir() -> bytes:
    """The training pipeline's sourcedir.tar.gz (deployed, never run by the smoke)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size, info.mtime = len(SCRIPT.encode()), 0
        tar.addfile(info, io.BytesIO(SCRIPT.encode()))
    return buffer.getvalue()


def _image_bundle() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("Dockerfile", f'FROM {BASE_IMAGE}\nCMD ["python", "-c", "print(\'smoke\')"]\n')
    return buffer.getvalue()


SCRIPT = """# Smoke: deployed in a pipeline definition that the smoke never starts.
import sys
print("smoke", sys.argv[1:])
"""


def files() -> dict[str, bytes]:
    """Object key in the data bucket -> content."""
    data = rows()
    return {
        "model/model.tar.gz": _model_tar(),
        "train/train.csv": _csv(data[:80]),  # XGBoost's CSV: the label first, no header
        "validation/validation.csv": _csv(data[80:]),
        "baseline/train-with-header.csv": _csv([r[1:] for r in data], FEATURES),
        "batch/input.csv": _csv([r[1:] for r in data[:10]]),
        "code/preprocess.py": SCRIPT.encode(),
        "code/evaluate.py": SCRIPT.encode(),
        "code/sourcedir.tar.gz": _source_dir(),
        "image/bundle.zip": _image_bundle(),
    }


def _regenerate_model() -> None:  # pragma: no cover - needs xgboost, run by hand
    import numpy
    import xgboost

    data = rows()
    matrix = xgboost.DMatrix(numpy.array([r[1:] for r in data], dtype=float), label=[r[0] for r in data])
    xgboost.train({"objective": "binary:logistic", "max_depth": 2}, matrix, num_boost_round=3).save_model(
        str(MODEL)
    )


if __name__ == "__main__":
    _regenerate_model()
