"""Benchmark of the main job (`make bench`; not part of CI): `mlopsctl local run --seed-demo` over
this repository's HEAD, as `make demo` runs it - target: under 60 s once installed. Measured twice:
with a cold template-lint cache (a fresh machine's first demo) and warm."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(cache: str) -> float:
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    env.pop("MLOPS_GITOPS_CACHE_DIR", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "--repo-root", str(ROOT), "local", "run", "--seed-demo"],
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"local run failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return took


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold = run(cache)
        warm = run(cache)
    print(
        f"make demo (local run --seed-demo): cold lint cache {cold:.1f} s, warm {warm:.1f} s (target < 60 s)"
    )


if __name__ == "__main__":
    main()
