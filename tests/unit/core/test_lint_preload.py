"""The template workers are forked from a server that has loaded cfn-lint's rules into a Runner
and linted a small template (core/lint_preload.py): no worker loads the rules again (~0.4 s of CPU
each on a cold `validate --templates`)."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from mlops_gitops.core import lint


def _worker_state() -> tuple[int, bool]:
    return lint._runner.cache_info().currsize, "sympy.logic.algorithms.pycosat_wrapper" in sys.modules


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)"
)
def test_a_template_worker_starts_with_cfn_lints_rules_and_solver_loaded() -> None:
    with lint._pool(2) as pool:
        assert pool.submit(_worker_state).result() == (1, True)


def test_the_warm_up_template_fills_the_runner_for_the_default_regions() -> None:
    lint._runner.cache_clear()
    lint.warm_runner()
    assert lint._runner.cache_info().currsize == 1
