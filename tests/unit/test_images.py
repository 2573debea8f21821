"""Built-in image URIs resolved from the SageMaker SDK's image data."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from mlops_gitops.images import ImageError, image_uri


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ("xgboost", "1.7-1", "us-east-1"),
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        ),
        (("xgboost", "latest", "us-east-1"), "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"),
        (
            ("sklearn", "1.2-1", "eu-west-1"),
            "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        ),
        (
            ("pytorch", "2.1", "us-east-1", "ml.g5.xlarge"),
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-gpu-py310",
        ),
        (
            ("pytorch", "2.1", "us-east-1", "ml.m5.large"),
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310",
        ),
        (
            ("xgboost", "1.7-1", "cn-north-1"),
            "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1",
        ),
        (
            ("model-monitor", "", "us-east-1"),
            "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
        ),
    ],
)
def test_image_uris(args: tuple, expected: str) -> None:
    assert image_uri(*args) == expected


@pytest.mark.parametrize(
    "args, message, hint",
    [
        (
            ("xgbost", "1.7-1", "us-east-1"),
            "'xgbost' is not a SageMaker built-in framework",
            "did you mean 'xgboost'?",
        ),
        (("xgboost", "9.9", "us-east-1"), "xgboost has no inference image version '9.9'", "1.7-1"),
        (("xgboost", "1.7-1", "xx-nowhere-1"), "not published in xx-nowhere-1", "region"),
    ],
)
def test_image_errors(args: tuple, message: str, hint: str) -> None:
    with pytest.raises(ImageError) as info:
        image_uri(*args)
    assert message in info.value.message and hint in info.value.hint


def test_image_data_records_its_source() -> None:
    data = json.loads(resources.files("mlops_gitops").joinpath("data/image_uris.json").read_text())
    assert data["source"].startswith("sagemaker_core-")
    assert {"xgboost", "sklearn", "pytorch", "model-monitor", "clarify"} <= set(data["frameworks"])
