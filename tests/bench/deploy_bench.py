"""Deploy benchmarks (run by `make bench`):

* a no-op deploy over 200 pipelines against a moto server, counting CloudFormation API calls
  (target: at most 5, whatever the number of pipelines);
* 20 changed pipelines against a fake CloudFormation whose stacks take 1 s each, parallel
  (--max-parallel 4) vs serial (target: parallel at most a third of serial);
* issue 17, at scale against the fake: 1,000 changed pipelines whose stacks take 0.5 s each (a
  few minutes, scaled down; polls every 0.02 s, 5 s scaled alike), under a read rate limit
  (Throttling beyond it), --max-parallel 32 vs 8 vs serial: wall time vs the ideal (pipelines x
  stack time / concurrency; target within 20%), no failed stack, DescribeStacks calls per poll
  round (target: the same whatever the number of stacks in flight); and a no-op deploy of 5,000
  pipelines (target: fewer CloudFormation calls than pages of stacks plus two). Serial runs 40
  pipelines and --max-parallel 8 runs 250, both scaled to 1,000 (serial would take over 500 s).
  The "fanned out" row (issue 17, ops.shards): the same 1,000 over 4 shards of --max-parallel 32
  each, run at once against the one fake (one account's rate limit); ideal = pipelines x stack time
  / (4 x 32); DescribeStacks per round counts each shard's own rounds. "Answered reads at the
  limit" is the reads the fake answered divided by its read limit: the shortest wall time those
  reads allow, to within a second (the fake counts per second of its clock, and a run's first and
  last seconds are partial). The fanned-out run reaches it (the one account's API rate, shared by its shards,
  bounds it, not their concurrency), as a real account would at that pace: the benchmark scales
  stack time down 600 times (0.5 s for ~5 min) but not CloudFormation's rate limit.
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
from typing import NamedTuple

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
            ssm = boto3.client("ssm", endpoint_url=endpoint)
            ssm.put_parameter(  # what target-account.yaml publishes
                Name="/mlops/permissions-boundary-arn",
                Value="arn:aws:iam::123456789012:policy/mlops-boundary-us-east-1",
                Type="String",
            )
            ssm.put_parameter(
                Name="/mlops/notify-key-arn",
                Value="arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
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


def _clones(tmp: str, count: int):
    """``count`` specs of one rendered pipeline under names of their own (rendering 1,000 configs
    is validate's benchmark, not this one's), with the repo and environments to deploy them."""
    from dataclasses import replace

    from mlops_gitops.config.validate import Validator
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.repo import Repo

    repo = Repo(_repo(Path(tmp), 1))
    env = Validator(repo).environments()
    specs, errors, _ = render_stage(repo, "dev", "b" * 40)
    assert not errors and len(specs) == 1
    one = specs[0]
    return (
        repo,
        env,
        [replace(one, stack_name=f"mlops-s{i:04d}-dev", pipeline_id=f"s{i:04d}") for i in range(count)],
    )


class Run(NamedTuple):
    """One changed deploy against the fake CloudFormation."""

    wall: float
    failed: list[str]  # the details of the pipelines not created
    throttled: int  # reads the fake refused (the adaptive client retried them)
    rounds: int  # stack-watch rounds: they start at most once per poll interval (aws.stack_watch)
    listing: int  # DescribeStacks calls: per round, the calls per poll interval spent on waiting
    others: int  # every other call: per stack, not per interval
    answered: int  # reads the fake answered


def _measured(wall: float, outcomes, fake, rounds: int) -> Run:
    return Run(
        wall=wall,
        failed=[o.detail for o in outcomes if o.result != "created"],
        throttled=fake.throttled,
        rounds=rounds,
        listing=fake.calls.count("describe_stacks"),
        others=len([c for c in fake.calls if c != "describe_stacks"]),
        answered=fake.reads - fake.throttled,
    )


def _changed_deploy(
    repo, env, specs, parallel: int, seconds: float, poll: float, reads_per_second: int, others: int
):
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.ops.deploy import Deployer
    from tests.fakes import FakeCloudFormation, FakeStack, fake_stage

    fake = FakeCloudFormation(reads_per_second=reads_per_second)
    for i in range(others):  # the account's other stacks: every run lists as many pages
        fake.add(FakeStack(f"other-{i:04d}", "UPDATE_COMPLETE"))
    for spec in specs:
        fake.execute_outcome[spec.stack_name] = ("slow", seconds)
    gateway = CloudFormationGateway(fake, poll_seconds=poll)
    deployer = Deployer(repo, env, fake_stage(gateway), artifact_bucket="bench", max_parallel=parallel)
    plan = deployer.plan("dev", specs)
    start = time.perf_counter()
    outcomes = deployer.apply(plan)
    wall = time.perf_counter() - start
    return _measured(wall, outcomes, fake, gateway.watcher._done)


def _fanned_deploy(
    repo, env, specs, shards: int, parallel: int, seconds: float, poll: float, reads_per_second: int
):
    """``specs`` deployed by ``shards`` shards at once (each its own Deployer, gateway and stack
    watcher, as each build of a batch has), against one fake CloudFormation."""
    from concurrent.futures import ThreadPoolExecutor

    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.ops import shards as sharding
    from mlops_gitops.ops.deploy import Deployer
    from tests.fakes import FakeCloudFormation, fake_stage

    fake = FakeCloudFormation(reads_per_second=reads_per_second)
    for spec in specs:
        fake.execute_outcome[spec.stack_name] = ("slow", seconds)
    gateways = [CloudFormationGateway(fake, poll_seconds=poll) for _ in range(shards)]

    def one(index: int):
        deployer = Deployer(
            repo, env, fake_stage(gateways[index - 1]), artifact_bucket="bench", max_parallel=parallel
        )
        plan = deployer.plan("dev", specs)
        part = sharding.with_items(plan, sharding.owned(plan.items, sharding.Shard(index, shards)))
        return deployer.apply(part)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=shards) as pool:
        outcomes = [o for done in pool.map(one, range(1, shards + 1)) for o in done]
    wall = time.perf_counter() - start
    assert len(outcomes) == len(specs), "every pipeline in exactly one shard"
    return _measured(wall, outcomes, fake, sum(g.watcher._done for g in gateways))


def bench_scale(count: int = 1000, seconds: float = 0.5) -> dict[str, float]:
    poll, limit = 0.02, 500  # reads per second the fake allows, then Throttling
    rows: list[
        tuple[int | str, int, float, float, Run]
    ] = []  # (max-parallel, pipelines, at 1,000, ideal, run)
    with tempfile.TemporaryDirectory() as tmp:
        repo, env, specs = _clones(tmp, count)
        for parallel, n in ((1, count // 25), (8, count // 4), (32, count)):
            run = _changed_deploy(repo, env, specs[:n], parallel, seconds, poll, limit, count - n)
            ideal = count * seconds / parallel  # at 1,000 pipelines
            rows.append((parallel, n, run.wall * count / n, ideal, run))
            assert not run.failed, run.failed[:3]
        fan, per_shard = 4, 32
        run = _fanned_deploy(repo, env, specs, fan, per_shard, seconds, poll, limit)
        ideal = count * seconds / (fan * per_shard)
        rows.append((f"{per_shard} x {fan} shards (fanned out)", count, run.wall, ideal, run))
        assert not run.failed, run.failed[:3]
    serial = rows[0][2]
    print(
        f"{count} changed pipelines, {seconds} s per stack, poll {poll} s, fake read limit {limit}/s, "
        f"an account of {count} stacks ({-(-count // 100)} pages of DescribeStacks) in every run"
    )
    print(
        "| max-parallel | pipelines | wall (s) | wall at 1,000 (s) | ideal (s) | wall/ideal | vs serial "
        "| failed | throttled reads | answered reads at the limit (s) | poll rounds "
        "| DescribeStacks per round | other calls per stack |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for parallel, n, scaled, ideal, run in rows:
        print(
            f"| {parallel} | {n} | {run.wall:.1f} | {scaled:.1f}{'' if n == count else f' (x{count // n})'} | {ideal:.1f} "
            f"| {scaled / ideal:.2f} | {scaled / serial:.3f} | {len(run.failed)} | {run.throttled} "
            f"| {run.answered / limit:.1f} | {run.rounds} | {run.listing / max(run.rounds, 1):.1f} "
            f"| {run.others / n:.1f} |"
        )
    print(
        "answered reads at the limit: the reads CloudFormation answered, divided by the fake's read "
        "limit - the shortest wall time those reads allow (to within a second). Where it is close to "
        "the wall time the run is bound by the account's API rate, not by its concurrency."
    )
    return {"ratio32": rows[2][2] / rows[2][3], "ratio_fanned": rows[3][2] / rows[3][3]}


def bench_noop_at_scale(count: int = 5000) -> tuple[int, int]:
    """A no-op deploy: every stack deployed at its spec hash; the calls are the listing's pages."""
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.ops.deploy import Deployer
    from tests.fakes import PAGE_SIZE, FakeCloudFormation, FakeStack, fake_stage

    with tempfile.TemporaryDirectory() as tmp:
        repo, env, specs = _clones(tmp, count)
        fake = FakeCloudFormation()
        for spec in specs:
            fake.add(FakeStack(spec.stack_name, "UPDATE_COMPLETE", dict(spec.tags), dict(spec.parameters)))
        deployer = Deployer(repo, env, fake_stage(CloudFormationGateway(fake)), artifact_bucket="bench")
        start = time.perf_counter()
        outcomes = deployer.apply(deployer.plan("dev", specs))
        wall = time.perf_counter() - start
    assert {o.result for o in outcomes} == {"unchanged"}
    pages = -(-count // PAGE_SIZE)
    calls = len(fake.calls)
    print(
        f"no-op deploy of {count} pipelines against the fake: {calls} CloudFormation call(s) "
        f"({sorted(set(fake.calls))}) for {pages} pages of stacks; target < pages + 2 = {pages + 2}; {wall:.1f} s"
    )
    return calls, pages


if __name__ == "__main__":
    only = sys.argv[1:]
    if not only or "noop" in only:
        bench_noop()
    if not only or "parallel" in only:
        bench_parallel()
    if not only or "scale" in only:
        bench_scale()
    if not only or "noop-scale" in only:
        bench_noop_at_scale()
