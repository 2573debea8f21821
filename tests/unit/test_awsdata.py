"""Enums come from botocore's service models, cached per botocore version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops import awsdata


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    awsdata.service_enums.cache_clear()
    yield
    awsdata.service_enums.cache_clear()


def test_instance_types_are_botocores_own() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    expected = tuple(model.shape_for("ProductionVariantInstanceType").enum)
    assert awsdata.enum_values("ProductionVariantInstanceType") == expected
    assert "ml.m5.large" in expected


def test_enums_are_cached_on_disk_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    awsdata.enum_values("ProblemType")
    cached = list((tmp_path / "cache").glob("enums-sagemaker-botocore-*.json"))
    assert len(cached) == 1
    # A second process reads the cache instead of botocore: prove it by planting a marker value.
    data = json.loads(cached[0].read_text())
    data["ProblemType"] = ["FromCache"]
    cached[0].write_text(json.dumps(data))
    awsdata.service_enums.cache_clear()
    monkeypatch.setattr(awsdata, "_enums_from_botocore", lambda service: pytest.fail("botocore was loaded"))
    assert awsdata.enum_values("ProblemType") == ("FromCache",)


def test_a_corrupt_or_unwritable_cache_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(blocker / "cache"))
    assert "Regression" in awsdata.enum_values("ProblemType")
    awsdata.service_enums.cache_clear()
    good = tmp_path / "c2"
    good.mkdir()
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(good))
    awsdata.enum_values("ProblemType")
    next(good.glob("*.json")).write_text("{not json")
    awsdata.service_enums.cache_clear()
    assert "Regression" in awsdata.enum_values("ProblemType")


def test_other_services_and_regions() -> None:
    assert "full-load-and-cdc" in awsdata.enum_values("MigrationTypeValue", "dms")
    assert awsdata.partition_of_region("eu-west-1") == "aws"
    assert awsdata.partition_of_region("cn-northwest-1") == "aws-cn"
    assert awsdata.partition_of_region("us-gov-west-1") == "aws-us-gov"
    assert awsdata.partition_of_region("mars-central-1") is None
    with pytest.raises(KeyError):
        awsdata.enum_values("NoSuchShape")
