"""Benchmarks (`make bench`; not part of CI). Prints one line per measurement.

* validate 1,000 configs in one run (target: under 2 s on a 2-core machine);
* `mlopsctl validate` of those 1,000 configs without --templates: the schema and semantic checks
  plus the physical names of every stage's stack (the templates copied in), wall and CPU;
* cold start of one `mlopsctl validate` of one config, a fresh interpreter each time
  (target: under 0.5 s wall), median of several runs;
* `mlopsctl validate --templates` of this repository, cold (empty cache directory, so every template
  is linted by cfn-lint) and warm (findings of unchanged templates reused from the cache), median of
  several runs each (target: cold under 5 s on a 2-core machine), and cfn-lint's time per template.

`python tests/bench/run.py templates` runs only the template benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


UNIQUE_NAMES = (
    "endpoint_name",
    "glue_database_name",
    "lake_bucket_name",
    "ecr_repo_name",
    "model_package_group_name",
)


def _numbered(value, i: int):
    """A name made unique for copy ``i`` (per-stage dicts too), in the name's own alphabet."""
    if isinstance(value, dict):
        return {k: _numbered(v, i) for k, v in value.items()}
    sep = "_" if "_" in value else "-"
    return f"{value}{sep}c{i}"


def make_repo(target: Path, copies: int) -> Path:
    """A repository with ``copies`` configs, cycling through the example configs."""
    src = ROOT / "pipeline-configs"
    dst = target / "pipeline-configs"
    dst.mkdir(parents=True)
    for name in ("mlops-config.schema.json", "environments.schema.json", "environments.json"):
        shutil.copy(src / name, dst / name)
    examples = sorted(p for p in src.glob("*/mlops-config.json"))
    for i in range(copies):
        example = examples[i % len(examples)]
        folder = dst / f"p{i:04d}-{example.parent.name}"[:40].rstrip("-")
        folder.mkdir()
        data = json.loads(example.read_text())
        # names AWS allows once per account and region: each copy takes its defaults (from its id)
        for key in UNIQUE_NAMES:
            if key in data and not (
                key == "endpoint_name" and not data["pipeline_type"].startswith("byom_realtime")
            ):
                data[key] = _numbered(data[key], i)  # monitors name the endpoint they watch: that stays
        if isinstance(data.get("feature_group"), dict):
            data["feature_group"].pop("name", None)
        if "triggers" in data:
            data["triggers"].pop("monitor_violations", None)
        (folder / "mlops-config.json").write_text(json.dumps(data))
    return target


def bench_validate_many(n: int = 1000) -> float:
    from mlops_gitops.config.validate import validate
    from mlops_gitops.repo import Repo

    with tempfile.TemporaryDirectory() as tmp:
        repo = Repo(make_repo(Path(tmp), n))
        validate(repo, [repo.configs_dir / "p0000-churn-autopilot"])  # warm the enum cache once
        start = time.perf_counter()
        report, valid = validate(repo)
        elapsed = time.perf_counter() - start
        assert not report.errors, report.errors[:3]
        assert len(valid) == n
    print(f"validate {n} configs (in-process): {elapsed:.2f} s  ({elapsed / n * 1000:.2f} ms/config)")
    return elapsed


def bench_validate_cli_many(n: int = 1000) -> float:
    """`mlopsctl validate` (no --templates) in-process: validate plus every stack's physical names."""
    import io

    from mlops_gitops.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        make_repo(Path(tmp), n)
        shutil.copytree(ROOT / "cloudformation", Path(tmp) / "cloudformation")
        argv = ["--repo-root", tmp, "validate"]
        main(argv, stdout=io.StringIO(), stderr=io.StringIO())  # warm the enum cache, parse templates
        start, cpu = time.perf_counter(), time.process_time()
        code = main(argv, stdout=io.StringIO(), stderr=io.StringIO())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert code == 0, code
    print(
        f"`mlopsctl validate` {n} configs, physical names included (in-process, second run): "
        f"{elapsed:.2f} s wall, {cpu:.2f} s CPU"
    )
    return elapsed


def bench_cold_start(runs: int = 7) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        make_repo(Path(tmp), 1)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
        cmd = [sys.executable, "-m", "mlops_gitops", "validate"]
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)  # warm caches
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"cold start, one config (`mlopsctl validate`, fresh interpreter): median {median:.3f} s of {runs} runs (min {min(times):.3f} s)"
    )
    return median


def _validate_templates(root: Path, cache: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), "MLOPS_GITOPS_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "mlops_gitops", "validate", "--templates"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return elapsed


# Every template linted in one fresh process (cfn-lint imported, rules loaded, no cache): the CPU
# time a cold `validate --templates` needs in all, whatever the number of workers sharing it.
_SERIAL = """
import sys, time
from pathlib import Path
from mlops_gitops.core import lint
from mlops_gitops.repo import Repo
repo = Repo(Path(sys.argv[1]))
jobs = [(repo.display(p), p.read_text(encoding="utf-8"), lint.DEFAULT_REGIONS) for p in lint.template_files(repo)]
for job in jobs:
    lint._lint_one(job)
"""


def _serial_cpu(root: Path) -> tuple[float, float, float]:
    """(wall, user, sys) of linting every template in one fresh process."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _SERIAL, str(root)], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def bench_validate_templates(root: Path = ROOT, runs: int = 3) -> tuple[float, float]:
    """Cold: a new, empty cache directory each run. Warm: the directory a first run filled. The
    machine's other load shows in the wall times: the CPU row (one process) is the steadier one."""
    with tempfile.TemporaryDirectory() as tmp:
        cold = [_validate_templates(root, Path(tmp) / f"cold{i}") for i in range(runs)]
        warm_dir = Path(tmp) / "warm"
        _validate_templates(root, warm_dir)
        warm = [_validate_templates(root, warm_dir) for _ in range(runs)]
    serial = [_serial_cpu(root) for _ in range(2)]
    load = os.getloadavg()[0]
    print(f"`mlopsctl validate --templates` ({os.cpu_count()} CPUs, load average {load:.1f}; runs: {runs})")
    print("| cache | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, times in (("cold (empty)", cold), ("warm (unchanged templates)", warm)):
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |")
    wall, user, system = min(serial, key=lambda r: r[1] + r[2])
    print(
        f"| cold, all templates in one process: CPU user+sys | {user + system:.2f} ({user:.2f}+{system:.2f}) | wall {wall:.2f} | |"
    )
    return statistics.median(cold), statistics.median(warm)


def bench_lint_per_template(root: Path = ROOT) -> dict[str, float]:
    """cfn-lint (with our rules) of each template alone, in this process, after one warm-up lint
    (imports, rules, cfn-lint's schema loading: not any one template's cost). CPU time besides the
    wall time, which the machine's other load inflates."""
    from mlops_gitops.core import lint
    from mlops_gitops.repo import Repo

    repo = Repo(root)
    paths = lint.template_files(repo)
    job = (repo.display(paths[0]), paths[0].read_text(encoding="utf-8"), lint.DEFAULT_REGIONS)
    lint._lint_one(job)
    times = {}
    for path in paths:
        job = (repo.display(path), path.read_text(encoding="utf-8"), lint.DEFAULT_REGIONS)
        start, cpu = time.perf_counter(), time.process_time()
        lint._lint_one(job)
        times[job[0]] = (time.perf_counter() - start, time.process_time() - cpu)
    print("| template (cfn-lint alone, in-process) | wall s | CPU s |")
    print("|---|---|---|")
    for name, (wall, cpu) in sorted(times.items(), key=lambda kv: -kv[1][1]):
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    walls, cpus = zip(*times.values(), strict=True)
    print(f"| total (one process) | {sum(walls):.2f} | {sum(cpus):.2f} |")
    return {name: cpu for name, (_, cpu) in times.items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["templates"]:
        bench_validate_many()
        bench_validate_cli_many()
        bench_cold_start()
    bench_lint_per_template()
    bench_validate_templates()
