"""Apply a stage's plan wave by wave (issue 15): a wave starts when the one before it has ended,
its stacks run in parallel (up to --max-parallel), and a stack whose dependency failed is skipped
with the reason, while independent stacks still deploy. The waves themselves are core.plan's."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mlops_gitops.core.plan import PlanItem


@dataclass
class Outcome:
    """What deploy did with one plan item (ops.deploy re-exports it)."""

    item: PlanItem
    result: str  # created | updated | unchanged | deleted | skipped | failed | blocked
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.result in ("failed", "blocked")


# actions that change nothing: they run (and report) whatever happened to their dependencies
_PASSIVE = ("unchanged", "keep", "blocked")
_WHICH = {"failed": "failed", "blocked": "is blocked", "skipped": "was skipped"}


def run_in_waves(
    items: list[PlanItem],
    one: Callable[[PlanItem], Outcome],
    max_parallel: int,
    note: Callable[[str], None] = lambda text: None,
) -> list[Outcome]:
    """Outcomes in plan order. ``note`` gets one progress line per wave."""
    waves = sorted({i.wave for i in items})
    broken: dict[str, str] = {}  # pipeline id -> what happened to it ("failed", "was skipped"...)
    done: dict[int, Outcome] = {}
    for number, wave in enumerate(waves, 1):
        batch = [i for i in items if i.wave == wave]
        if len(waves) > 1:
            note(wave_line(number, len(waves), batch))
        todo = []
        for item in batch:
            bad = [d for d in item.depends_on if d in broken]
            if bad and item.action not in _PASSIVE:
                done[id(item)] = Outcome(item, "skipped", skip_reason(item, bad, broken))
            else:
                todo.append(item)
        if max_parallel <= 1 or len(todo) <= 1:
            results = [one(item) for item in todo]
        else:
            with ThreadPoolExecutor(max_workers=max_parallel) as pool:
                results = list(pool.map(one, todo))
        for outcome in results:
            done[id(outcome.item)] = outcome
        for item in batch:
            outcome = done[id(item)]
            if item.pipeline_id and (outcome.failed or outcome.detail.startswith("skipped: ")):
                broken[item.pipeline_id] = _WHICH.get(outcome.result, outcome.result)
    return [done[id(i)] for i in items]


def skip_reason(item: PlanItem, bad: list[str], broken: dict[str, str]) -> str:
    what = ", ".join(f"{d}, which {broken[d]}" for d in bad)
    if item.action == "delete":
        return f"skipped: deleted only after {what}"
    return f"skipped: depends on {what}"


def wave_line(number: int, total: int, batch: list[PlanItem]) -> str:
    names = ", ".join(i.pipeline_id or i.stack_name for i in batch)
    after = sorted({d for i in batch for d in i.depends_on})
    return (
        f"deploy: wave {number}/{total}: {names}" + (f" (after {', '.join(after)})" if after else "") + "\n"
    )
