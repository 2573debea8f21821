#!/usr/bin/env python3
"""Show that a template change deploys the same thing: every example config, every stage, rendered
and evaluated offline (cfn_eval) with the templates of a base revision and of the working tree.

    .venv/bin/python scripts/compare_evaluated_stacks.py [BASE_REV]   # default: HEAD

Compares which resources and outputs are created and every evaluated property, condition and
DeletionPolicy. Exit 0 when all agree, 1 (with the differences) otherwise. Resource references
evaluate to placeholders (<Logical.Attr>), so a renamed resource shows as a difference.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from mlops_gitops.cfn_eval import Evaluator, parameter_values  # noqa: E402
from mlops_gitops.config.validate import Validator  # noqa: E402
from mlops_gitops.core.render import RenderError, render  # noqa: E402
from mlops_gitops.core.templates import _parse  # noqa: E402
from mlops_gitops.repo import Repo  # noqa: E402


def _or_error(fn, rid: str) -> object:
    """The evaluated resource, or why it can't be evaluated offline (compared like a value)."""
    try:
        return fn(rid)
    except (ValueError, LookupError) as exc:  # e.g. Fn::Select over a resource attribute's placeholder
        return f"unevaluable offline: {type(exc).__name__}: {exc}"


def _stack(body: dict, params: dict[str, str]) -> dict:
    pseudo = {"AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/stack/id"}
    ev = Evaluator(body, parameter_values(body, params), pseudo=pseudo)
    resources = {rid: _or_error(ev.resource, rid) for rid in body["Resources"] if ev.present(rid)}
    outputs = {
        oid: ev(out["Value"])
        for oid, out in (body.get("Outputs") or {}).items()
        if "Condition" not in out or ev.condition(out["Condition"])
    }
    return {"Resources": resources, "Outputs": outputs}


def main(base: str) -> int:
    repo = Repo(ROOT)
    validator = Validator(repo)
    env = validator.environments()
    differences = compared = 0
    for path in sorted(repo.configs_dir.glob("*/mlops-config.json")):
        cfg, _ = validator.check_config(path, env)
        if cfg is None:
            continue
        for stage in cfg.stages:
            try:
                spec = render(ROOT, cfg, stage, env, commit="0" * 40)
            except RenderError:
                continue
            old_text = subprocess.run(
                ["git", "show", f"{base}:{spec.template}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            old = _stack(_parse(old_text), spec.parameters)
            new = _stack(_parse((ROOT / spec.template).read_text(encoding="utf-8")), spec.parameters)
            compared += 1
            if old != new:
                differences += 1
                print(f"DIFFERENT {cfg.pipeline_id} {stage} ({spec.template})")
                for kind in ("Resources", "Outputs"):
                    for key in sorted(set(old[kind]) | set(new[kind])):
                        if old[kind].get(key) != new[kind].get(key):
                            print(
                                f"  {kind}.{key}:\n    {base}: {old[kind].get(key)}\n    now:  {new[kind].get(key)}"
                            )
            else:
                offline = [k for k, v in new["Resources"].items() if str(v).startswith("unevaluable")]
                note = f"; not evaluable offline: {', '.join(offline)}" if offline else ""
                print(
                    f"same      {cfg.pipeline_id} {stage} ({spec.template}, {len(new['Resources'])} resources{note})"
                )
    print(f"{compared} stacks compared against {base}, {differences} different")
    return 1 if differences or not compared else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "HEAD"))
