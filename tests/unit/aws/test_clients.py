"""Credentials of a stage account are refreshed before they expire: from a CodeBuild role the
assume-role is role chaining, capped by AWS at one hour, and a deploy can wait longer than that.
(moto's assume_role returns long-lived keys, so the refresh is driven here by a fake STS.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlops_gitops.aws.clients import AwsContext


class FakeSts:
    def __init__(self) -> None:
        self.calls = 0

    def assume_role(self, RoleArn: str, RoleSessionName: str) -> dict:
        self.calls += 1
        return {
            "Credentials": {
                "AccessKeyId": f"AKIA{self.calls}",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                # within botocore's refresh window: the next use asks STS again
                "Expiration": datetime.now(UTC) + timedelta(minutes=5),
            }
        }


def test_stage_account_credentials_are_refreshed_before_they_expire(monkeypatch) -> None:
    sts = FakeSts()
    base = AwsContext(region="us-east-1", _account="123456789012")
    monkeypatch.setattr(base, "client", lambda service, region=None: sts)
    stage = base.for_account("111111111111", "mlops-deploy", "mlopsctl-prod")
    assert sts.calls == 1
    credentials = stage.session().get_credentials()
    first = credentials.get_frozen_credentials().access_key
    assert sts.calls >= 2 and first != "AKIA1", "near expiry: assumed again before use"
    assert base.for_account("123456789012", "mlops-deploy", "x") is base, "our own account: no role"
