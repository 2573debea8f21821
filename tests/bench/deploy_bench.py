"""Deploy benchmarks (run by `make bench`):

* a no-op deploy over 200 pipelines against a moto server, counting CloudFormation API calls
  (target: at most 5, whatever the number of pipelines);
* 20 changed pipelines against a fake CloudFormation whose stacks take 1 s each, parallel
  (--max-parallel 4) vs serial (target: parallel at most a third of serial).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))


def _repo(target: Path, count: int) -> Path:
    configs = target / "pipeline-configs"
    configs.mkdir(parents=True)
    for name in ("mlops-config.schema.json", "environments.schema.json", "environments.json"):
        shutil.copy(ROOT / "pipeline-configs" / name, configs / name)
    shutil.copytree(ROOT / "cloudformation", target / "cloudformation")
    batch = json.loads((ROOT / "pipeline-configs" / "churn-batch" / "mlops-config.json").read_text())
    for i in range(count):
        (configs / f"b{i:03d}").mkdir()
        (configs / f"b{i:03d}" / "mlops-config.json").write_text(json.dumps(batch))
    return target


def bench_noop(count: int = 200) -> int:
    import boto3
    from moto.server import ThreadedMotoServer

    from mlops_gitops.cli import main
    from tests.fakes import count_api_calls

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = _repo(Path(tmp), count)
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench-artifacts")
            argv = [
                "--repo-root",
                str(repo),
                "deploy",
                "--stage",
                "dev",
                "--endpoint-url",
                endpoint,
                "--artifact-bucket",
                "bench-artifacts",
                "--commit",
                "b" * 40,
            ]
            boto3.client("ssm", endpoint_url=endpoint).put_parameter(  # what target-account.yaml publishes
                Name="/mlops/permissions-boundary-arn",
                Value="arn:aws:iam::123456789012:policy/mlops-boundary-us-east-1",
                Type="String",
            )
            devnull = open(os.devnull, "w")  # noqa: SIM115
            start = time.perf_counter()
            assert main(argv, stdout=devnull, stderr=devnull) == 0
            first = time.perf_counter() - start
            with count_api_calls("cloudformation") as calls:
                start = time.perf_counter()
                assert main(argv, stdout=devnull, stderr=devnull) == 0
                second = time.perf_counter() - start
    finally:
        server.stop()
    print(
        f"deploy {count} pipelines into moto: first run {first:.1f} s; no-op run {second:.2f} s with {len(calls)} CloudFormation call(s): {sorted(set(calls))}"
    )
    return len(calls)


def bench_parallel(count: int = 20, seconds: float = 1.0) -> tuple[float, float]:
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.ops.deploy import Deployer
    from mlops_gitops.repo import Repo
    from tests.fakes import FakeCloudFormation, fake_stage

    with tempfile.TemporaryDirectory() as tmp:
        repo = Repo(_repo(Path(tmp), count))
        env = Validator(repo).environments()
        specs, errors, _ = render_stage(repo, "dev", "b" * 40)
        assert not errors and len(specs) == count
        timings = []
        for parallel in (1, 4):
            fake = FakeCloudFormation()
            for spec in specs:
                fake.execute_outcome[spec.stack_name] = ("slow", seconds)
            gateway = CloudFormationGateway(fake, poll_seconds=0.05)
            deployer = Deployer(
                repo, env, fake_stage(gateway), artifact_bucket="bench", max_parallel=parallel
            )
            start = time.perf_counter()
            outcomes = deployer.apply(deployer.plan("dev", specs))
            timings.append(time.perf_counter() - start)
            assert {o.result for o in outcomes} == {"created"}, {o.detail for o in outcomes}
    serial, parallel = timings
    print(
        f"{count} changed pipelines, {seconds:.0f} s per stack: serial {serial:.1f} s, --max-parallel 4 {parallel:.1f} s (ratio {parallel / serial:.2f}; target <= 0.33)"
    )
    return serial, parallel


if __name__ == "__main__":
    bench_noop()
    bench_parallel()
