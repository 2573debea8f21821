"""`mlopsctl validate --templates`: cfn-lint plus our policy rules, in-process, as Findings.

cfn-lint costs about 0.5-0.6 s to import and 0.3-0.45 s to load its rules (ours included), so both
happen once per process: `_runner` keeps one cfn-lint Runner for every template a process lints
(cfn-lint's `lint()` would load the rules again for each). A template then takes 0.1-2.2 s of CPU
(all of this repository's: 6-8.5 s, with the three changes below), more with many conditions:
cfn-lint's solver checks every Fn::If, and every list or object holding Fn::Ifs once per combination
of their conditions (up to 128), against all of the template's conditions - keep the count of
conditions, of conditions inside one property, and of nested Fn::Ifs low (data_lake.yaml's feature
slots: one Fn::If each on 19 conditions). It resolves a Fn::Sub whose property has constraints (a
state machine's DefinitionString) by expanding its variables in order, every combination of their
values, until one it can't resolve (Fn::GetAtt): a Sub lists such a variable first
(tests/repo/test_lint_cost.py; model_training.yaml's state machine was half of that template's lint).
The solver is sympy's, which uses picosat when `pycosat` (one of our dependencies) is installed:
the same answers as its pure-Python fallback at 75-85% of the cold lint's CPU.
Each template's findings are cached under its content hash (plus cfn-lint's version, our rules and
the settings) in mlopsctl's cache directory ($MLOPS_GITOPS_CACHE_DIR; buildspecs/validate.yml keeps
it across CodeBuild builds): an unchanged template is linted once. The templates to lint are spread
over one process per CPU, forked from a server that has imported cfn-lint and loaded its rules once
(forkserver, `lint_preload`: safe when the caller runs threads, as a moto server in tests does), the
largest first. That server takes 0.75-1.1 s to start, so `start_lint` starts it and hands it the
templates from a background thread, and `mlopsctl validate` checks the configs (0.4-0.9 s) meanwhile;
`lint_templates` is the same, waited for at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from mlops_gitops.core.policy_rules import RULES_DIR
from mlops_gitops.findings import ERROR, WARNING, Finding, json_path
from mlops_gitops.repo import Repo

TEMPLATE_GLOBS = ("cloudformation/*.yaml", "cloudformation/**/*.yaml")
DEFAULT_REGIONS = ("us-east-1",)


def template_files(repo: Repo) -> list[Path]:
    return sorted({p for pattern in TEMPLATE_GLOBS for p in repo.root.glob(pattern)})


def lint_templates(
    repo: Repo,
    paths: list[Path] | None = None,
    regions: tuple[str, ...] = DEFAULT_REGIONS,
    notes: list[str] | None = None,
) -> tuple[list[Finding], list[str]]:
    """(findings, checked files) for every template under cloudformation/ (or ``paths``).

    A cache entry that can't be used (corrupt, another shape) is linted again, with a line in
    ``notes`` saying so; a cache directory that can't be written only costs the reuse.
    """
    return start_lint(repo, paths, regions, notes).result()


class PendingLint:
    """`lint_templates` started: the cached findings are read, the templates not in the cache are
    being linted by a background thread (which boots the lint processes and waits for them), and
    `result()` waits for them. `mlopsctl validate --templates` runs its config checks meanwhile,
    so that the lint server's start (0.75-1.1 s, cfn-lint's import and rules) overlaps them."""

    def __init__(
        self,
        findings: list[Finding],
        checked: list[str],
        todo: dict[str, tuple[str, str, Path]],
        regions: tuple[str, ...],
    ) -> None:
        self._findings, self._checked, self._todo = findings, checked, todo
        self._future: Future[list[list[Finding]]] | None = None
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._abandoned = False
        if todo:
            jobs = [(display, text, regions) for display, (text, _, _) in todo.items()]
            workers = min(len(jobs), os.cpu_count() or 1)
            # One thread, shut down at once: it ends when its lint does (the interpreter waits for
            # it at exit, so a caller that gives up calls abandon()).
            thread = ThreadPoolExecutor(1, thread_name_prefix="mlops-lint")
            self._future = thread.submit(lint_jobs, jobs, workers, self._started)
            thread.shutdown(wait=False)

    def _started(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            self._pool, abandoned = pool, self._abandoned
        if abandoned:
            _stop(pool)

    def abandon(self) -> None:
        """Give the lint up (the caller failed, or was interrupted, before it had the findings): the
        templates not started are dropped and the workers linting are stopped, so that the process
        exits at once instead of finishing a lint nobody reads."""
        with self._lock:
            self._abandoned, pool = True, self._pool
        if pool is not None:
            _stop(pool)

    def result(self) -> tuple[list[Finding], list[str]]:
        """(findings, checked files), as `lint_templates` returns them: the cached templates' findings
        first, then the linted ones', each in file order."""
        if self._future is not None:
            results = self._future.result()
            self._future = None
            for (_, _, cached), found in zip(self._todo.values(), results, strict=True):
                _write_cache(cached, found)
                self._findings += found
        return self._findings, self._checked


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers (the executor then fails its running work
    with BrokenProcessPool, which nobody waits for). ProcessPoolExecutor has no public way to end
    busy workers before Python 3.14 (terminate_workers), hence its `_processes`."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):  # already gone
            pass


def start_lint(
    repo: Repo,
    paths: list[Path] | None = None,
    regions: tuple[str, ...] = DEFAULT_REGIONS,
    notes: list[str] | None = None,
) -> PendingLint:
    """`lint_templates`, started: the cache is read here, the rest is linted in the background."""
    findings: list[Finding] = []
    checked: list[str] = []
    todo: dict[str, tuple[str, str, Path]] = {}  # display -> (text, cache key, cache file)
    for path in paths if paths is not None else template_files(repo):
        display = repo.display(path)
        checked.append(display)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            findings.append(
                Finding(
                    display,
                    "$",
                    "template-unreadable",
                    f"cannot read the template: {exc}",
                    "save it as UTF-8",
                )
            )
            continue
        key = _cache_key(text, regions)
        cached = _cache_file(key)
        hit = _read_cache(cached)
        try:
            found = [Finding(**{**f, "file": display}) for f in hit] if isinstance(hit, list) else None
        except TypeError:  # an entry of another shape
            found, hit = None, False
        if hit is False and notes is not None:
            notes.append(f"{display}: ignored an unreadable lint cache entry ({cached}); linted again")
        if found is not None:
            findings += found
        else:
            todo[display] = (text, key, cached)
    return PendingLint(findings, checked, todo, regions)


# What the forkserver imports before it forks the workers: cfn-lint's import is paid once, and
# lint_preload loads its rules into a Runner and lints a small template (warm_runner), so that no
# worker loads them again (~0.4 s of CPU each).
# lint_preload first: it makes the server ignore Ctrl-C before the long import.
_PRELOAD = ["mlops_gitops.core.lint_preload"]
_PRELOAD += ["cfnlint.api", "cfnlint.runner", "cfnlint.decode.decode", "cfnlint.config"]


def lint_jobs(
    jobs: list[tuple[str, str, tuple[str, ...]]],
    workers: int,
    started: Callable[[ProcessPoolExecutor], None] | None = None,
) -> list[list[Finding]]:
    """Each job's findings, in the jobs' order, linted by ``workers`` processes (1: here);
    ``started`` is given the process pool before the jobs are submitted and again once they are
    (the workers exist only then: submitting starts them, which waits for the lint server's boot),
    so that a caller giving up at any moment can stop them."""
    if workers <= 1 or len(jobs) <= 1:
        return [_lint_one(job) for job in jobs]
    # Largest first, so that the last template to start is a small one (balances the workers).
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][1]))
    with _pool(workers) as pool:
        if started is not None:
            started(pool)
        results = pool.map(_lint_one, [jobs[i] for i in order])
        if started is not None:
            started(pool)
        done = dict(zip(order, results, strict=True))
    return [done[i] for i in range(len(jobs))]


def _pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)  # ignored if this process's server already runs
    else:  # no fork (Windows): each worker imports cfn-lint itself
        context = get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


# Two resources, a condition and a Fn::If: what a process's first template loads besides the rules
# (the resource schemas' resolver, the condition solver) is loaded by warm_runner.
_WARM_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String, Default: ""}
Conditions:
  HasName: !Not [!Equals [!Ref Name, ""]]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !If [HasName, !Ref Name, !Ref AWS::NoValue]
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !GetAtt Topic.TopicName
"""


def warm_runner(regions: tuple[str, ...] = DEFAULT_REGIONS) -> None:
    """Load cfn-lint's rules into this process's Runner and lint a small template once."""
    _matches(_WARM_TEMPLATE, regions)


@cache
def _runner(regions: tuple[str, ...]):  # -> cfnlint.runner.Runner (imported lazily)
    """One cfn-lint Runner per process and regions: its rules (ours too) are loaded once."""
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    args = ManualArgs(regions=list(regions), include_checks=["I"], append_rules=[str(RULES_DIR)])
    runner = Runner(ConfigMixIn(**args))
    _memoize_dataclass_fields()  # after the Runner: its rules have imported the modules to speed up
    _walk_policy_documents_once(runner)
    _our_rules.update(id(rule) for rule in runner.rules.values())  # kept alive by this cache
    _reuse_validator_classes()
    return runner


def _memoize_dataclass_fields() -> None:
    """Make cfn-lint's `evolve` methods cheaper, with the same results.

    cfn-lint copies its validation Context, Validator and FunctionFilter dataclasses at every step
    of a template's walk (`evolve`), and each copy asks `dataclasses.fields(cls)` for the class's
    fields again: about 460,000 calls, 5-8% of the CPU of a cold lint of this repository. A
    dataclass's fields don't change once the class exists, so the cfn-lint modules that call
    `dataclasses.fields` get a version that remembers its answer for each class (weakly: cfn-lint
    creates Validator classes as it goes). Modules that use anything else under that name are left
    alone, and so is an instance passed instead of a class. tests/unit/core/test_lint_speedups.py
    compares the findings with and without it.
    """
    import dataclasses
    import sys
    import weakref

    original = dataclasses.fields
    known: weakref.WeakKeyDictionary[type, tuple] = weakref.WeakKeyDictionary()

    def fields(class_or_instance):
        if not isinstance(class_or_instance, type):
            return original(class_or_instance)
        try:
            return known[class_or_instance]
        except KeyError:
            found = known[class_or_instance] = original(class_or_instance)
            return found

    fields.__wrapped__ = original  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if name.startswith("cfnlint.") and getattr(module, "fields", None) is original:
            module.fields = fields  # type: ignore[attr-defined]


def _walk_policy_documents_once(runner) -> None:  # runner: cfnlint.runner.Runner
    """Let cfn-lint check the functions in an IAM policy document's Statement and Version once fewer.

    A resource schema types a policy document as an object (or a JSON string) with no properties,
    and cfn-lint walks such an object key by key (FunctionFilter._filter_schemas gives it a
    `patternProperties: {".*": any}` schema) to check the functions inside. Where a policy rule is
    registered (identity, trust and resource policies: subclasses of cfnlint's iam Policy rule,
    E3510, E3512, E3513...), that rule walks the same document again against the IAM policy schema,
    with the same function checks, for the keys that schema knows (Id, Statement, Version): each
    Ref, Fn::Sub and Fn::GetAtt in a statement was checked three times, now twice. At those paths
    alone, the key-by-key walk is narrowed to the keys the rule's schema doesn't know (a misspelt
    `Statment` is still walked: the rule only says it is unexpected). 12% fewer validation steps,
    ~9% less lint CPU for this repository's templates. A policy document no policy rule covers
    (AWS::IoT::Policy's, say) is walked as before. The change is process-wide (every cfn-lint
    Runner of the process); tests/unit/core/test_lint_speedups.py compares the findings with and
    without it, and counts the checks it saves, so a cfn-lint that walks otherwise fails there.
    """
    from cfnlint.jsonschema import _filter
    from cfnlint.rules.resources.iam.Policy import Policy

    original = _filter.FunctionFilter.__dict__.get("_filter_schemas")
    all_types = getattr(_filter, "_all_types", None)
    if original is None or all_types is None or hasattr(original, "__wrapped__"):
        return  # another cfn-lint, or done already (one Runner per regions, the same rules)
    walk = {".*": {"type": all_types}}
    patterns: dict[str, str | None] = {}  # policy path -> the keys its rule's schema doesn't know
    for rule in runner.rules.values():
        schema = getattr(rule, "identity_schema", None)
        known = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(rule, Policy) or not isinstance(known, dict) or not known:
            continue
        if not runner.rules.is_rule_enabled(rule, runner.config):
            continue
        others = "^(?!(?:" + "|".join(re.escape(key) for key in sorted(known)) + ")$)"
        for keyword in getattr(rule, "keywords", ()):
            if keyword.startswith("Resources/"):  # two rules with other schemas: that path left alone
                patterns[keyword] = others if patterns.get(keyword, others) == others else None
    narrowed = {path: {others: {"type": all_types}} for path, others in patterns.items() if others}

    def _filter_schemas(self, schema, validator):
        standard, group = original(self, schema, validator)
        if (
            isinstance(standard, dict)
            and standard.get("patternProperties") == walk
            and "patternProperties" not in schema
        ):
            others = narrowed.get("/".join(validator.context.path.cfn_path))
            if others is not None:
                standard = {**standard, "patternProperties": others}
        return standard, group

    _filter_schemas.__wrapped__ = original  # type: ignore[attr-defined]
    _filter.FunctionFilter._filter_schemas = _filter_schemas  # type: ignore[method-assign]


_VALIDATOR_CLASSES_KEPT = 64
_validator_classes: dict[tuple, type] = {}  # _reuse_validator_classes: arguments -> class
_our_rules: set[int] = set()  # the rules of the Runners `_runner` keeps


def _reuse_validator_classes() -> None:
    """Let cfn-lint reuse the Validator class it builds for a rule, instead of building it again.

    Each time a rule extends a validator, cfn-lint builds a new Validator class
    (`cfnlint.jsonschema.validators.create`, a `dataclasses.dataclass` each time: ~2,300 per cold
    lint of this repository, 3-4% of its CPU), whose defaults are the validators, function filter
    and function resolvers it was given. Two classes built from equal arguments behave the same,
    so the one built first is returned for equal arguments: the same keyword functions (bound to
    the same rules), and a function filter of the same type with the same field values (the class
    keeps the first of those equal filters as its default). Arguments that can't be compared that
    way (a value that can't be hashed) get a new class, as before. A class kept holds the rules it
    was built for, so only classes for the rules of the Runners `_runner` keeps are kept (~15 per
    Runner): another Runner's (`cfnlint.api.lint` builds one per call) get a new class each time,
    as before, and are freed with it. `_VALIDATOR_CLASSES_KEPT` bounds the rest.
    """
    import dataclasses
    import types

    from cfnlint.jsonschema import validators as module

    original = getattr(module, "create", None)
    if original is None or hasattr(original, "__wrapped__"):
        return
    built = _validator_classes

    def frozen(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    def create(validators=None, function_filter=None, fn_resolvers=None):
        if any(
            isinstance(value, types.MethodType) and id(value.__self__) not in _our_rules
            for value in (validators or {}).values()
        ):  # another Runner's rules
            return original(validators, function_filter, fn_resolvers)
        try:
            key = (
                tuple((validators or {}).items()),
                None
                if function_filter is None
                else (
                    type(function_filter),
                    tuple(
                        (f.name, frozen(getattr(function_filter, f.name)))
                        for f in dataclasses.fields(function_filter)
                    ),
                ),
                tuple((fn_resolvers or {}).items()),
            )
            known = built.get(key)
        except TypeError:  # something unhashable, or a filter that is no dataclass
            return original(validators, function_filter, fn_resolvers)
        if known is None:
            if len(built) >= _VALIDATOR_CLASSES_KEPT:
                built.clear()
            known = built[key] = original(validators, function_filter, fn_resolvers)
        return known

    create.__wrapped__ = original  # type: ignore[attr-defined]
    module.create = create


def _matches(text: str, regions: tuple[str, ...]) -> list:
    """cfn-lint's matches for one template, as `cfnlint.api.lint` gives them."""
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(text)
    if errors:
        return errors
    if template is None:
        return []
    return list(_runner(regions).validate_template(template))


def _lint_one(job: tuple[str, str, tuple[str, ...]]) -> list[Finding]:
    display, text, regions = job
    out = []
    for match in _matches(text, regions):
        parts = [
            int(p) if isinstance(p, int) or (isinstance(p, str) and p.isdigit()) else p
            for p in (match.path or [])
        ]
        severity = ERROR if match.rule.severity == "error" else WARNING
        hint = (
            f"line {match.linenumber}; see {match.rule.source_url}"
            if match.rule.source_url
            else f"line {match.linenumber}"
        )
        out.append(Finding(display, json_path(parts), match.rule.id, match.message, hint, severity))
    return out


# ------------------------------------------------------------------ cache


def _cache_key(text: str, regions: tuple[str, ...]) -> str:
    return hashlib.sha256(_settings(regions).encode() + text.encode("utf-8")).hexdigest()


@cache
def _settings(regions: tuple[str, ...]) -> str:
    """What, besides the template, decides its findings: read once per process, not per template."""
    from dataclasses import fields
    from importlib.metadata import version

    from mlops_gitops import __version__

    digest = hashlib.sha256()
    digest.update(f"cfn-lint {version('cfn-lint')} regions {','.join(regions)} checks I\n".encode())
    digest.update(f"mlops-gitops {__version__} {[f.name for f in fields(Finding)]}\n".encode())
    # how this module runs cfn-lint (the changes above) is part of the result too
    digest.update(Path(__file__).read_bytes())
    for rule in sorted(RULES_DIR.glob("*.py")):  # our rules are part of the result
        digest.update(rule.name.encode() + b"\0" + rule.read_bytes())
    return digest.hexdigest()


def _cache_file(key: str) -> Path:
    from mlops_gitops.awsdata import cache_dir

    return cache_dir() / "lint" / f"{key}.json"


def _read_cache(path: Path) -> list[dict] | None | bool:
    """The cached findings; None when there is no entry, False when there is one we can't use."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return False
    return data if isinstance(data, list) and all(isinstance(f, dict) for f in data) else False


def _write_cache(path: Path, findings: list[Finding]) -> None:
    from mlops_gitops.awsdata import _write_quietly

    _write_quietly(path, json.dumps([asdict(f) for f in findings]))
