"""Dependency waves and cycle detection (mlops_gitops.graph)."""

from __future__ import annotations

import pytest

from mlops_gitops.graph import ReferenceCycle, find_cycle, waves


@pytest.mark.parametrize(
    "nodes, depends_on, expected",
    [
        (["a", "b"], {}, {"a": 1, "b": 1}),
        (["mon", "ep"], {"mon": ["ep"]}, {"mon": 2, "ep": 1}),
        (["train", "mon", "ep"], {"train": ["mon"], "mon": ["ep"]}, {"train": 3, "mon": 2, "ep": 1}),
        (["d", "b", "c", "a"], {"d": ["b", "c"], "c": ["a"]}, {"a": 1, "b": 1, "c": 2, "d": 3}),
        (["mon"], {"mon": ["not-in-this-run"]}, {"mon": 1}),  # outside the run: no wait
    ],
)
def test_each_node_comes_one_wave_after_its_latest_dependency(nodes, depends_on, expected) -> None:
    assert waves(nodes, depends_on) == expected


def test_a_cycle_is_refused_with_the_ring_named() -> None:
    with pytest.raises(ReferenceCycle) as caught:
        waves(["a", "b", "c"], {"a": ["b"], "b": ["c"], "c": ["a"]})
    assert caught.value.cycle == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(caught.value)


def test_find_cycle_none_on_a_dag_and_self_loops_found() -> None:
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
