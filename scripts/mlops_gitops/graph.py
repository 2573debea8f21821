"""Dependency waves: which nodes can go together, each after every node it depends on.

Generic and pure (a leaf module): config.references says who depends on whom, core.plan and
ops.deploy order stacks by it. Kahn's algorithm, with the wave number of a node = 1 + the highest
wave of what it depends on, so a wave holds everything whose dependencies are all done."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlops_gitops.errors import GitOpsError


class ReferenceCycle(GitOpsError):
    """Nodes that depend on each other in a ring: no order can satisfy them."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            "pipelines reference each other in a cycle: "
            + " -> ".join(cycle)
            + "; no deploy order satisfies them (remove one of the references)"
        )


def waves(nodes: Iterable[str], depends_on: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """node -> its wave (1, 2, ...). Dependencies on nodes outside ``nodes`` are ignored (they are
    not part of this run). Raises ReferenceCycle naming one cycle."""
    wanted = list(dict.fromkeys(nodes))
    present = set(wanted)
    deps = {n: sorted(set(depends_on.get(n, ())) & present - {n}) for n in wanted}
    cycle = find_cycle(deps)
    if cycle:
        raise ReferenceCycle(cycle)
    out: dict[str, int] = {}

    def wave(node: str) -> int:
        if node not in out:
            out[node] = 1 + max((wave(d) for d in deps[node]), default=0)
        return out[node]

    for node in wanted:
        wave(node)
    return out


def find_cycle(depends_on: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None. Iterative depth-first search (no recursion limit)."""
    done: set[str] = set()
    for start in sorted(depends_on):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(depends_on.get(start, ())))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = todo.pop(0)
            if nxt in on_path:
                return path[path.index(nxt) :] + [nxt]
            if nxt in done:
                continue
            stack.append((nxt, sorted(depends_on.get(nxt, ()))))
            path.append(nxt)
            on_path.add(nxt)
    return None
