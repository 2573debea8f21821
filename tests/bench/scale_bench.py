"""Issue 17's table (`make bench`, through run.py): validate, offline plan, online plan, no-op
deploy and status at 100 / 1,000 / 5,000 pipelines: wall time, peak memory and CloudFormation
calls and pages, and status's SageMaker calls (a scripted fake client, tests/fakes_sagemaker.py).

Each measurement runs in a fresh interpreter (``python tests/bench/scale_bench.py one OP N DIR``),
so its peak memory is that process's own maximum resident set (ru_maxrss: imports, the rendered
specs and the operation; not the other rows' garbage). Wall time is the operation alone (after
imports and after loading the fake's stacks). The configs are the example configs cycled into a
generated repository (run.py's make_repo), a git repository so that the offline plan can read
its base from git. Online plan, no-op deploy and status run against the scripted fake
CloudFormation (tests/fakes.py) holding every pipeline's stack, deployed at its spec hash:
a page of DescribeStacks is 100 stacks there, as the listing counts them.

`python tests/bench/scale_bench.py [--quick]`: --quick (or MLOPS_BENCH_QUICK=1) stops at 1,000.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

COUNTS = (100, 1000, 5000)
OPS = ("validate", "offline plan", "online plan", "no-op deploy", "status")
COMMIT = "b" * 40


def make_git_repo(target: Path, count: int) -> Path:
    """``count`` configs (run.py's make_repo) and the templates, committed, plus what the fake
    holds: every rendered dev stack as deployed (stacks.json)."""
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from run import make_repo

    from mlops_gitops.core.render import render_stage
    from mlops_gitops.repo import Repo

    make_repo(target, count)
    shutil.copytree(ROOT / "cloudformation", target / "cloudformation")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=target, check=True)
    repo = Repo(target)
    specs, errors, _ = render_stage(repo, "dev", COMMIT)
    assert not errors and len(specs) == count, errors[:3]
    # dev's "latest approved" model packages, as deploy resolves them (and hashes them)
    specs, unresolved = _deployer(repo, None)._resolve_deferred(specs)
    assert not unresolved
    stacks = [{"name": s.stack_name, "tags": dict(s.tags), "parameters": dict(s.parameters)} for s in specs]
    (target / "stacks.json").write_text(json.dumps(stacks))
    return target


def _fake(root: Path):
    from tests.fakes import FakeCloudFormation, FakeStack

    fake = FakeCloudFormation()
    for s in json.loads((root / "stacks.json").read_text()):
        stack = FakeStack(s["name"], "UPDATE_COMPLETE", s["tags"], s["parameters"])
        stack.outputs = {"SageMakerEndpointName": f"{s['name']}-endpoint"}
        fake.add(stack)
    return fake


def _registry(root: Path | None):
    """SageMaker as status and the plan read it: the real gateway over the scripted fake client
    (tests/fakes_sagemaker.py; every endpoint InService, every monitor's and batch pipeline's last
    run completed), which counts status's calls; the plan's "latest approved" answered without one."""
    from mlops_gitops.aws.sagemaker import SageMakerGateway
    from tests.fakes_sagemaker import FakeSageMaker

    class Registry(SageMakerGateway):
        def latest_approved(self, group: str) -> str:
            return f"arn:aws:sagemaker:us-east-1:111122223333:model-package/{group}/1"

    stacks = json.loads((root / "stacks.json").read_text()) if root else []
    return Registry(FakeSageMaker.serving(stacks))


def _deployer(repo, fake, root: Path | None = None):
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.ops.deploy import Deployer
    from tests.fakes import fake_stage

    gateways = fake_stage(CloudFormationGateway(fake), registry=_registry(root))
    return Deployer(repo, Validator(repo).environments(), gateways, artifact_bucket="bench")


def run_one(op: str, root: Path) -> dict:
    """One measurement in this process: what the verb does in-process, after its imports."""
    from mlops_gitops.config.validate import Validator, validate
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.ops.offline import offline_plan
    from mlops_gitops.ops.status import stage_status
    from mlops_gitops.repo import Repo

    repo = Repo(root)
    env = Validator(repo).environments()
    fake = _fake(root) if op in ("online plan", "no-op deploy", "status") else None
    deployer = _deployer(repo, fake, root if op == "status" else None)
    gateways = deployer.gateways
    start = time.perf_counter()
    if op == "validate":
        report, valid = validate(repo)
        assert not report.errors and valid, report.errors[:3]
        result = f"{len(valid)} valid"
    elif op == "offline plan":
        items, findings = offline_plan(repo, env, ["dev"], "HEAD", COMMIT)
        assert not findings and {i.action for i in items} == {"unchanged"}, findings[:3]
        result = f"{len(items)} unchanged"
    else:
        specs, errors, _ = render_stage(repo, "dev", COMMIT)
        assert not errors
        if op == "status":
            rows = stage_status(repo, env, gateways, specs)
            assert {r.sync for r in rows} == {"in-sync"}, {r.sync for r in rows}
            assert {r.health for r in rows} == {"healthy"}, {(r.health, r.detail) for r in rows}
            result = f"{len(rows)} in-sync"
        else:
            plan = deployer.plan("dev", specs)
            assert {i.action for i in plan.items} == {"unchanged"}, {i.action for i in plan.items}
            if op == "online plan":
                deployer.preview(plan)  # nothing to preview: no change set
                result = f"{len(plan.items)} unchanged"
            else:
                outcomes = deployer.apply(plan)
                assert {o.result for o in outcomes} == {"unchanged"}
                result = f"{len(outcomes)} unchanged"
    wall = time.perf_counter() - start
    calls = list(fake.calls) if fake else []
    sm_calls = list(gateways.sagemaker.client.calls)
    return {
        "sm_calls": len(sm_calls),
        "sm_kinds": sorted(set(sm_calls)),
        "op": op,
        "wall": wall,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "calls": len(calls),
        "pages": math.ceil(len(fake.stacks) / 100) if fake else 0,
        "kinds": sorted(set(calls)),
        "result": result,
    }


def measure(op: str, root: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "one", op, str(root)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{op} at {root}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def bench_scale_table(counts=COUNTS) -> list[tuple[int, dict]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        for count in counts:
            root = make_git_repo(Path(tmp) / f"r{count}", count)
            rows += [(count, measure(op, root)) for op in OPS]
            shutil.rmtree(root)
    print(
        f"\nScale (issue 17): {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        "shared with other work: wall times vary by +-30% or more from run to run on this machine; "
        "calls and pages do not. Fake CloudFormation, 100 stacks a DescribeStacks page; fake SageMaker "
        "(status only), 100 items a List* page."
    )
    print(
        "| pipelines | operation | wall (s) | ms / pipeline | peak RSS (MB) | CFN calls | CFN pages | calls "
        "| SageMaker calls |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for count, r in rows:
        sm = f"{r['sm_calls']} ({', '.join(r['sm_kinds'])})" if r["op"] == "status" else "-"
        print(
            f"| {count:,} | {r['op']} | {r['wall']:.2f} | {r['wall'] / count * 1000:.1f} | {r['maxrss_mb']:.0f} "
            f"| {r['calls'] if r['pages'] else '-'} | {r['pages'] or '-'} | {', '.join(r['kinds']) or '-'} | {sm} |"
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["one"]:
        print(json.dumps(run_one(sys.argv[2], Path(sys.argv[3]))))
    else:
        quick = "--quick" in sys.argv or os.environ.get("MLOPS_BENCH_QUICK") == "1"
        bench_scale_table(COUNTS[:2] if quick else COUNTS)
