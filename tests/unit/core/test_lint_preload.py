"""The template workers are forked from a server that has loaded cfn-lint's rules into a Runner
and linted a small template (core/lint_preload.py): no worker loads the rules again (~0.4 s of CPU
each on a cold `validate --templates`)."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from mlops_gitops.core import lint


def _worker_state() -> tuple[int, bool, bool, bool, bool]:
    import dataclasses

    import cfnlint.context.context
    import cfnlint.jsonschema._filter
    import cfnlint.jsonschema.validators

    remembered = getattr(cfnlint.context.context.fields, "__wrapped__", None) is dataclasses.fields
    return (
        lint._runner.cache_info().currsize,
        "sympy.logic.algorithms.pycosat_wrapper" in sys.modules,
        # core.lint's changes to how cfn-lint runs (tests/unit/core/test_lint_speedups.py)
        remembered,
        hasattr(cfnlint.jsonschema._filter.FunctionFilter._filter_schemas, "__wrapped__"),
        hasattr(cfnlint.jsonschema.validators.create, "__wrapped__"),
    )


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)"
)
def test_a_template_worker_starts_with_cfn_lints_rules_and_solver_loaded() -> None:
    with lint._pool(2) as pool:
        assert pool.submit(_worker_state).result() == (1, True, True, True, True)


def test_the_warm_up_template_fills_the_runner_for_the_default_regions() -> None:
    lint._runner.cache_clear()
    lint.warm_runner()
    assert lint._runner.cache_info().currsize == 1


def _sigint_disposition() -> object:
    import signal

    return signal.getsignal(signal.SIGINT)


def _block(started) -> None:  # a busy worker: tells the test it runs, then never returns
    import threading

    started.set()
    threading.Event().wait()


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)"
)
def test_template_workers_leave_ctrl_c_to_mlopsctl() -> None:
    """Ctrl-C reaches the whole process group: the workers ignore it (mlopsctl stops them), instead of
    each printing a KeyboardInterrupt traceback."""
    import signal

    with lint._pool(2) as pool:
        assert pool.submit(_sigint_disposition).result() == signal.SIG_IGN


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)"
)
def test_giving_the_lint_up_stops_a_busy_worker() -> None:
    """abandon() (validate failed or was interrupted) ends the workers: the lint in progress fails at
    once rather than running to its end (a worker that never returns stands for a long template)."""
    from concurrent.futures.process import BrokenProcessPool

    with multiprocessing.Manager() as manager:
        started = manager.Event()
        pool = lint._pool(1)
        future = pool.submit(_block, started)
        assert started.wait(timeout=120)
        lint._stop(pool)
        assert isinstance(future.exception(timeout=120), BrokenProcessPool)


def _gc_state() -> tuple[bool, int, bool]:
    import gc

    return gc.get_freeze_count() > 0, gc.get_threshold()[0], gc.isenabled()


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver (Windows)"
)
def test_template_workers_leave_the_servers_objects_out_of_garbage_collection() -> None:
    """What the server loaded (cfn-lint, its rules and schemas) is frozen, and a worker's first
    generation is large: its collections don't walk the loaded objects again and again. The server
    loads with the collector off (it starts sooner), and turns it back on for the workers."""
    with lint._pool(2) as pool:
        frozen, first_generation, collecting = pool.submit(_gc_state).result()
    assert frozen
    assert first_generation >= 10_000
    assert collecting
