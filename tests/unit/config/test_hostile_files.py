"""Hostile files: every way a file can be broken before it is even a JSON object.

Each row writes one bad file as a config and expects exactly one finding with the exact code,
JSON path and the telling part of the message (line and column for syntax errors), exit 1 and
never a traceback. The same loader guards environments.json, and one bad file never hides the
others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Result, TmpRepo, example, run_cli

CONFIG = "pipeline-configs/p/mlops-config.json"
ENVIRONMENTS = "pipeline-configs/environments.json"
MIB = 1024 * 1024


def _nested_objects(depth: int, leaf: str = '"x"') -> str:
    """``{"a": {"a": ... leaf ...}}`` with ``depth`` objects."""
    return '{"a": ' * depth + leaf + "}" * depth


# Starts like a config, then 5 MB of one string: the size check must come before parsing.
BIG_FILE = b'{"pipeline_type": "byom_realtime_builtin", "description": "' + b"x" * (5 * MIB) + b'"}'


# id, file content, finding code, JSON path (None: not asserted), message parts, hint part
HOSTILE = [
    # ---------------------------------------------------------------- JSON syntax
    pytest.param(
        '{\n  "pipeline_type": "byom_realtime_builtin",\n}\n',
        "json-syntax",
        "$",
        ["line 3 column 1"],
        "trailing comma",
        id="trailing-comma-in-object",
    ),
    pytest.param(
        '{\n  "notify": ["a@example.com", "b@example.com",]\n}\n',
        "json-syntax",
        "$",
        ["line 2 column 47", "Expecting value"],
        "trailing comma",
        id="trailing-comma-in-array",
    ),
    pytest.param(
        "{\n  'pipeline_type': 'byom_realtime_builtin'\n}\n",
        "json-syntax",
        "$",
        ["line 2 column 3", "Expecting property name enclosed in double quotes"],
        "double quotes",
        id="single-quoted-key",
    ),
    pytest.param(
        "{\n  \"pipeline_type\": 'byom_realtime_builtin'\n}\n",
        "json-syntax",
        "$",
        ["line 2 column 20", "Expecting value"],
        "use double quotes for strings",
        id="single-quoted-value",
    ),
    pytest.param(
        '{\n  "pipeline_type": "byom_realtime_builtin"\n  "model_name": "m"\n}\n',
        "json-syntax",
        "$",
        ["line 3 column 3", "Expecting ',' delimiter"],
        "a comma is missing",
        id="missing-comma",
    ),
    pytest.param(
        '{\n  "pipeline_type": "byom_realtime_builtin',
        "json-syntax",
        "$",
        ["line 2 column 20", "Unterminated string"],
        "close the string with a double quote",
        id="unterminated-string-at-end-of-file",
    ),
    pytest.param(
        '{\n  "description": "no closing quote,\n  "model_name": "m"\n}\n',
        "json-syntax",
        "$",
        ["line 2 column 36", "Invalid control character"],
        "escape line breaks",
        id="string-broken-by-a-line-break",
    ),
    pytest.param(
        '{\n  "instance_count": // one is enough\n    1\n}\n',
        "json-syntax",
        "$",
        ["line 2 column 21"],
        "JSON has no comments",
        id="line-comment-before-a-value",
    ),
    pytest.param(
        '{\n  "instance_count": /* one */ 1\n}\n',
        "json-syntax",
        "$",
        ["line 2 column 21"],
        "JSON has no comments",
        id="block-comment-before-a-value",
    ),
    pytest.param(
        '{"pipeline_type": "byom_realtime_builtin"}\n{"model_name": "m"}\n',
        "json-syntax",
        "$",
        ["line 2 column 1", "Extra data"],
        "more than one JSON value",
        id="two-top-level-values",
    ),
    # ---------------------------------------------------------------- empty
    pytest.param("", "file-empty", "$", ["the file is empty"], "JSON object", id="empty-file"),
    pytest.param(
        " \n\t\r\n  \n", "file-empty", "$", ["the file is empty"], "JSON object", id="whitespace-only"
    ),
    # ---------------------------------------------------------------- top level not an object
    pytest.param(
        '[{"pipeline_type": "byom_realtime_builtin"}]',
        "not-an-object",
        "$",
        ["the top level is an array, not an object"],
        "single JSON object",
        id="top-level-array",
    ),
    pytest.param(
        '"byom_realtime_builtin"',
        "not-an-object",
        "$",
        ["the top level is a string, not an object"],
        "single JSON object",
        id="top-level-string",
    ),
    pytest.param(
        "42",
        "not-an-object",
        "$",
        ["the top level is an integer, not an object"],
        None,
        id="top-level-integer",
    ),
    pytest.param(
        "4.5", "not-an-object", "$", ["the top level is a number, not an object"], None, id="top-level-float"
    ),
    pytest.param(
        "null", "not-an-object", "$", ["the top level is null, not an object"], None, id="top-level-null"
    ),
    # ---------------------------------------------------------------- duplicate keys
    pytest.param(
        '{\n  "model_name": "a",\n  "pipeline_type": "byom_realtime_builtin",\n  "model_name": "b"\n}\n',
        "json-duplicate-key",
        "$.model_name",
        ["'model_name' appears more than once"],
        "remove the duplicates",
        id="duplicate-top-level-key",
    ),
    pytest.param(
        '{"inference_instance": {"dev": "ml.t2.medium", "prod": "ml.m5.large", "dev": "ml.m5.xlarge"}}',
        "json-duplicate-key",
        "$.inference_instance.dev",
        ["'dev' appears more than once"],
        "remove the duplicates",
        id="duplicate-nested-key",
    ),
    pytest.param(
        '{"tags": {"cost center": "a", "cost center": "b"}}',
        "json-duplicate-key",
        "$.tags['cost center']",
        ["'cost center' appears more than once"],
        None,
        id="duplicate-key-that-needs-quoting-in-the-path",
    ),
    pytest.param(
        '{"feature_group": {"features": [{"name": "a"}, {"name": "b", "name": "c"}]}}',
        "json-duplicate-key",
        "$.feature_group.features[1].name",
        ["'name' appears more than once"],
        None,
        id="duplicate-key-inside-an-array",
    ),
    # ---------------------------------------------------------------- non-finite numbers
    pytest.param(
        '{"instance_count": NaN}',
        "json-not-finite",
        "$.instance_count",
        ["NaN is not a JSON number"],
        "finite number",
        id="nan",
    ),
    pytest.param(
        '{"instance_count": Infinity}',
        "json-not-finite",
        "$.instance_count",
        ["Infinity is not a JSON number"],
        "finite number",
        id="infinity",
    ),
    pytest.param(
        '{"instance_count": {"dev": 1, "prod": -Infinity}}',
        "json-not-finite",
        "$.instance_count.prod",
        ["-Infinity is not a JSON number"],
        "finite number",
        id="minus-infinity",
    ),
    pytest.param(
        '{"data_capture_sampling_percentage": 1e400}',
        "json-not-finite",
        "$.data_capture_sampling_percentage",
        ["the number is too large for a 64-bit float"],
        "finite number",
        id="float-overflowing-to-infinity",
    ),
    # ---------------------------------------------------------------- absurd nesting
    pytest.param(
        '{"tags": ' + _nested_objects(40) + "}",
        "json-too-deep",
        "$.tags" + ".a" * 32,
        ["nests deeper than 32 levels"],
        "flatten the structure",
        id="40-levels-in-a-free-form-object",
    ),
    pytest.param(
        '{"notify": ' + "[" * 40 + "]" * 40 + "}",
        "json-too-deep",
        "$.notify" + "[0]" * 32,
        ["nests deeper than 32 levels"],
        "flatten the structure",
        id="40-levels-of-arrays",
    ),
    pytest.param(
        # 100,000 levels: more than Python's recursion limit; must be a finding, not a RecursionError.
        '{"tags": ' + _nested_objects(100_000, "1") + "}",
        "json-too-deep",
        None,
        ["nests deeper than 32 levels"],
        "flatten the structure",
        id="100000-levels-of-objects",
    ),
    pytest.param(
        '{"notify": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "json-too-deep",
        None,
        ["nests deeper than 32 levels"],
        "flatten the structure",
        id="100000-levels-of-arrays",
    ),
    # ---------------------------------------------------------------- size, numbers, encoding
    pytest.param(
        BIG_FILE,
        "file-too-large",
        "$",
        [f"the file is {len(BIG_FILE):,} bytes", "over the 1,048,576-byte limit"],
        "s3://",
        id="5-MB-file",
    ),
    pytest.param(
        '{"instance_count": ' + "9" * 5000 + "}",
        "json-syntax",
        None,
        ["more than 4300 digits"],
        None,
        id="5000-digit-integer",
    ),
    pytest.param(
        b'{\n  "pipeline_type": "byom_realtime_builtin",\n  "description": "caf\xe9 scoring"\n}\n',
        "file-encoding",
        "$",
        ["byte 0xe9 at line 3 column 22 is not valid UTF-8"],
        "save the file as UTF-8",
        id="latin-1-e-acute",
    ),
    pytest.param(
        b"\xff\xfe{\x00}\x00",
        "file-encoding",
        "$",
        ["byte 0xff at line 1 column 1 is not valid UTF-8"],
        "UTF-8",
        id="utf-16-file",
    ),
]


def _only_finding(result: Result, file: str) -> dict:
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.err
    assert "internal error" not in result.err
    findings = result.json["findings"]
    assert len(findings) == 1, findings
    (finding,) = findings
    assert finding["file"] == file
    assert finding["severity"] == "error"
    return finding


@pytest.mark.parametrize("content, code, path, message_parts, hint_part", HOSTILE)
def test_hostile_config_is_one_precise_finding(
    tmp_repo: TmpRepo,
    content: str | bytes,
    code: str,
    path: str | None,
    message_parts: list[str],
    hint_part: str | None,
) -> None:
    tmp_repo.write("p", content)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    finding = _only_finding(result, CONFIG)
    assert finding["code"] == code
    if path is not None:
        assert finding["path"] == path
    else:
        assert finding["path"].startswith("$")
    for part in message_parts:
        assert part in finding["message"]
    assert finding["hint"], "every finding says how to fix it"
    if hint_part is not None:
        assert hint_part in finding["hint"]
    assert result.json["checked"] == 2  # the config and environments.json

    # The text report is the same finding on one line: file: path: message; hint
    text = run_cli("--repo-root", str(tmp_repo.root), "validate")
    assert text.code == 1
    assert "Traceback" not in text.err
    assert text.out == f"{CONFIG}: {finding['path']}: {finding['message']}; {finding['hint']}\n"


def test_a_utf8_byte_order_mark_is_accepted(tmp_repo: TmpRepo) -> None:
    body = json.dumps(example("churn-realtime"), indent=2).encode("utf-8")
    tmp_repo.write("p", b"\xef\xbb\xbf" + body)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate")
    assert result.code == 0, result.out + result.err
    assert result.out == ""
    assert "Traceback" not in result.err


def test_a_byte_order_mark_does_not_shift_line_and_column(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("p", b'\xef\xbb\xbf{\n  "pipeline_type": "byom_realtime_builtin",\n}\n')
    finding = _only_finding(
        run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json"), CONFIG
    )
    assert finding["code"] == "json-syntax"
    assert "line 3 column 1" in finding["message"]


def test_32_levels_are_not_too_deep(tmp_repo: TmpRepo) -> None:
    # $.tags + 31 objects puts the leaf at depth 32, the limit: other findings, but not json-too-deep.
    tmp_repo.write("p", '{"tags": ' + _nested_objects(31) + "}")
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "json-too-deep" not in {f["code"] for f in result.json["findings"]}


# ------------------------------------------------------------------ the repository is a boundary
#
# A pipeline folder whose config can't be read must stop validate (and so render_stage and deploy,
# whose --prune would otherwise delete the pipeline's stacks); links are followed only to regular
# files inside the repository, nothing outside it is read or echoed; one config per pipeline.

SECRET = "TOP-SECRET-CONTENT-OUTSIDE-THE-REPO"


def _layout_misnamed(repo: TmpRepo, tmp_path) -> None:
    repo.write("p", example("churn-realtime")).rename(repo.configs / "p" / "mlops_config.json")


def _layout_dangling(repo: TmpRepo, tmp_path) -> None:
    (repo.configs / "p").mkdir()
    (repo.configs / "p" / "mlops-config.json").symlink_to(repo.configs / "p" / "gone.json")


def _layout_loop(repo: TmpRepo, tmp_path) -> None:
    (repo.configs / "p").mkdir()
    (repo.configs / "p" / "mlops-config.json").symlink_to(repo.configs / "p" / "mlops-config.json")


def _layout_folder(repo: TmpRepo, tmp_path) -> None:
    (repo.configs / "p" / "mlops-config.json").mkdir(parents=True)


def _layout_empty(repo: TmpRepo, tmp_path) -> None:
    (repo.configs / "p").mkdir()


def _layout_outside_file(repo: TmpRepo, tmp_path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"pipeline_type": "' + SECRET + '"}')
    (repo.configs / "p").mkdir()
    (repo.configs / "p" / "mlops-config.json").symlink_to(outside)


def _layout_outside_folder(repo: TmpRepo, tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "mlops-config.json").write_text('{"pipeline_type": "' + SECRET + '"}')
    (repo.configs / "p").symlink_to(outside, target_is_directory=True)


def _layout_dev_zero(repo: TmpRepo, tmp_path) -> None:
    (repo.configs / "p").mkdir()
    (repo.configs / "p" / "mlops-config.json").symlink_to("/dev/zero")


def _layout_fifo(repo: TmpRepo, tmp_path) -> None:
    import os

    (repo.configs / "p").mkdir()
    os.mkfifo(repo.configs / "p" / "mlops-config.json")


def _layout_duplicate(repo: TmpRepo, tmp_path) -> None:
    repo.write("a", example("churn-realtime"))
    (repo.configs / "p").symlink_to(repo.configs / "a", target_is_directory=True)


# id, set-up, code, message part, hint part
LAYOUT = [
    pytest.param(
        _layout_misnamed,
        "config-missing",
        "holds 'mlops_config.json'",
        "rename 'mlops_config.json' to mlops-config.json",
        id="misnamed",
    ),
    pytest.param(_layout_dangling, "dangling-link", "does not exist", "replace the link", id="dangling-link"),
    pytest.param(_layout_loop, "link-loop", "loop", "replace the link", id="link-loop"),
    pytest.param(_layout_folder, "not-a-file", "is a folder", "JSON file", id="folder-named-like-the-file"),
    pytest.param(_layout_empty, "config-missing", "is empty", "add mlops-config.json", id="empty-folder"),
    pytest.param(
        _layout_outside_file,
        "outside-repository",
        "outside the repository",
        "replace the link",
        id="link-out-of-the-repo",
    ),
    pytest.param(
        _layout_outside_folder,
        "outside-repository",
        "outside the repository",
        "replace the link",
        id="folder-linked-out-of-the-repo",
    ),
    pytest.param(
        _layout_dev_zero,
        "outside-repository",
        "outside the repository",
        "replace the link",
        id="link-to-dev-zero",
    ),
    pytest.param(_layout_fifo, "not-a-file", "not a regular file", "regular", id="fifo"),
    pytest.param(
        _layout_duplicate,
        "duplicate",
        "same config as 'a'",
        "remove the link",
        id="folder-linked-to-another-pipeline",
    ),
]


@pytest.mark.parametrize("setup, code, message_part, hint_part", LAYOUT)
def test_a_pipeline_folder_without_a_readable_config_is_an_error(
    tmp_repo: TmpRepo, tmp_path, setup, code: str, message_part: str, hint_part: str
) -> None:
    setup(tmp_repo, tmp_path)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    finding = _only_finding(result, CONFIG)
    assert (finding["code"], finding["path"]) == (code, "$"), finding
    assert message_part in finding["message"], finding
    assert hint_part in finding["hint"], finding
    assert SECRET not in result.out + result.err
    text = run_cli("--repo-root", str(tmp_repo.root), "validate")
    assert text.code == 1 and text.out.startswith(f"{CONFIG}: $: "), text.out
    assert SECRET not in text.out + text.err


@pytest.mark.parametrize("setup", [p.values[0] for p in LAYOUT], ids=[p.id for p in LAYOUT])
def test_render_stage_stops_on_a_broken_pipeline_folder(tmp_repo: TmpRepo, tmp_path, setup) -> None:
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.repo import Repo

    tmp_repo.write("other", example("churn-realtime") | {"endpoint_name": "other-endpoint"})
    setup(tmp_repo, tmp_path)
    specs, errors, _ = render_stage(Repo(tmp_repo.root), "dev", "0" * 40)
    assert specs == [] and errors, "deploy must not go on (and prune) with a broken pipeline folder"
    assert {f.pipeline_id for f in errors} == {"p"}


def test_the_duplicate_is_the_linked_folder_whichever_sorts_first(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("zeta", example("churn-realtime"))
    (tmp_repo.configs / "alpha").symlink_to(tmp_repo.configs / "zeta", target_is_directory=True)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert [(f["file"], f["code"]) for f in result.json["findings"]] == [
        ("pipeline-configs/alpha/mlops-config.json", "duplicate")
    ]
    assert "same config as 'zeta'" in result.json["findings"][0]["message"]


def test_a_broken_pipeline_folder_is_still_a_pipeline(tmp_repo: TmpRepo, tmp_path) -> None:
    from mlops_gitops.repo import Repo

    _layout_misnamed(tmp_repo, tmp_path)
    assert Repo(tmp_repo.root).pipeline_ids() == ["p"]
    assert Repo(tmp_repo.root).config_files() == []


def test_an_oversized_config_is_refused_before_it_is_read(tmp_repo: TmpRepo, monkeypatch) -> None:
    import os

    from mlops_gitops.config import jsonfile

    path = tmp_repo.write("p", b"{}")
    with open(path, "r+b") as f:  # a sparse 3 GiB file: reading it would exhaust memory
        f.truncate(3 * 1024**3)
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(
        jsonfile.os, "read", lambda fd, n: reads.append(os.fstat(fd).st_size) or real_read(fd, n)
    )
    finding = _only_finding(
        run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json"), CONFIG
    )
    assert finding["code"] == "file-too-large"
    assert all(size < MIB for size in reads), "the 3 GiB file was read"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_reading_a_device_neither_hangs_nor_exhausts_memory(device: str) -> None:
    from mlops_gitops.config.jsonfile import NotRegular, read_regular

    with pytest.raises(NotRegular):
        read_regular(Path(device))


def test_an_environments_json_linked_out_of_the_repository_is_not_read(tmp_repo: TmpRepo, tmp_path) -> None:
    outside = tmp_path / "env.json"
    outside.write_text('{"stack_prefix": "' + SECRET + '"}')
    tmp_repo.configs.joinpath("environments.json").unlink()
    tmp_repo.configs.joinpath("environments.json").symlink_to(outside)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert [f["code"] for f in result.json["findings"]] == ["outside-repository"]
    assert SECRET not in result.out + result.err


@pytest.mark.parametrize(
    "where, shown",
    [
        ("pipeline-configs/p/extra/mlops-config.json", "nested inside pipeline 'p'"),
        ("pipeline-configs/stray.json", "sits directly in pipeline-configs/"),
        ("pipeline-config/q/mlops-config.json", "is in pipeline-config/, not pipeline-configs/"),
    ],
    ids=["nested", "stray-json", "misspelt-sibling-folder"],
)
def test_a_config_deploy_never_reads_is_a_warning_and_an_error_when_named(
    tmp_repo: TmpRepo, where: str, shown: str
) -> None:
    tmp_repo.write("p", example("churn-realtime"))
    path = tmp_repo.root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(example("churn-realtime")))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 0, result.out + result.err
    (warning,) = result.json["findings"]
    assert (warning["file"], warning["severity"], warning["code"]) == (where, "warning", "misplaced")
    assert shown in warning["message"]

    named = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json", str(path))
    assert named.code == 1, named.out + named.err
    assert [(f["file"], f["code"], f["severity"]) for f in named.json["findings"]] == [
        (where, "not-deployed", "error")
    ]


def test_validate_of_one_pipeline_folder_reports_its_broken_config(tmp_repo: TmpRepo, tmp_path) -> None:
    _layout_misnamed(tmp_repo, tmp_path)
    result = run_cli(
        "--repo-root", str(tmp_repo.root), "validate", "--format", "json", str(tmp_repo.configs / "p")
    )
    assert result.code == 1
    assert [f["code"] for f in result.json["findings"]] == ["config-missing"]


# ------------------------------------------------------------------ environments.json

HOSTILE_ENVIRONMENTS = [
    pytest.param(b"", "file-empty", "$", "the file is empty", id="empty"),
    pytest.param(b"  \n\n", "file-empty", "$", "the file is empty", id="whitespace-only"),
    pytest.param(
        b'{\n  "stack_prefix": "mlops",\n}\n', "json-syntax", "$", "line 3 column 1", id="trailing-comma"
    ),
    pytest.param(b"{\n  stack_prefix: mlops\n}\n", "json-syntax", "$", "line 2 column 3", id="unquoted-key"),
    pytest.param(
        b'[{"name": "dev"}]', "not-an-object", "$", "the top level is an array", id="top-level-array"
    ),
    pytest.param(b"null", "not-an-object", "$", "the top level is null", id="top-level-null"),
    pytest.param(
        b'{"region": "us-east-1", "region": "eu-west-1"}',
        "json-duplicate-key",
        "$.region",
        "'region' appears more than once",
        id="duplicate-key",
    ),
    pytest.param(
        b'{"stages": [{"name": "dev", "approval": NaN}]}',
        "json-not-finite",
        "$.stages[0].approval",
        "NaN is not a JSON number",
        id="nan",
    ),
    pytest.param(
        b'{"stack_prefix": "caf\xe9"}',
        "file-encoding",
        "$",
        "byte 0xe9 at line 1 column 22",
        id="latin-1",
    ),
    pytest.param(
        b'{"stages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "json-too-deep",
        None,
        "nests deeper than 32 levels",
        id="100000-levels",
    ),
    pytest.param(
        b'{"stack_prefix": "' + b"x" * (2 * MIB) + b'"}',
        "file-too-large",
        "$",
        "over the 1,048,576-byte limit",
        id="2-MB",
    ),
]


@pytest.mark.parametrize("content, code, path, message_part", HOSTILE_ENVIRONMENTS)
def test_hostile_environments_json_is_a_finding_and_configs_are_still_checked(
    tmp_repo: TmpRepo, content: bytes, code: str, path: str | None, message_part: str
) -> None:
    tmp_repo.write("churn-realtime", example("churn-realtime"))
    (tmp_repo.configs / "environments.json").write_bytes(content)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    finding = _only_finding(result, ENVIRONMENTS)
    assert finding["code"] == code
    if path is not None:
        assert finding["path"] == path
    assert message_part in finding["message"]
    assert result.json["checked"] == 2  # environments.json and the (valid) config


# ------------------------------------------------------------------ one bad file among good ones


def test_bad_files_hide_neither_the_good_ones_nor_each_other(tmp_repo: TmpRepo) -> None:
    good = ["churn-realtime", "churn-batch", "web-events", "customer-lake"]
    for pipeline_id in good:
        tmp_repo.write(pipeline_id, example(pipeline_id))
    tmp_repo.write("a-empty", "")
    tmp_repo.write("b-syntax", '{\n  "pipeline_type": "byom_realtime_builtin",\n}\n')
    tmp_repo.write("c-array", "[]")
    tmp_repo.write("d-latin1", b'{"description": "\xe9"}')
    tmp_repo.write("e-schema", {**example("churn-realtime"), "inference_instance": "ml.m5.hugeee"})

    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert "Traceback" not in result.err
    doc = result.json
    assert doc["checked"] == len(good) + 5 + 1  # every config, and environments.json
    by_file = {(f["file"], f["code"]) for f in doc["findings"]}
    assert by_file == {
        ("pipeline-configs/a-empty/mlops-config.json", "file-empty"),
        ("pipeline-configs/b-syntax/mlops-config.json", "json-syntax"),
        ("pipeline-configs/c-array/mlops-config.json", "not-an-object"),
        ("pipeline-configs/d-latin1/mlops-config.json", "file-encoding"),
        ("pipeline-configs/e-schema/mlops-config.json", "instance-type"),
    }
    assert "10 files checked, 5 errors, 0 warnings" in result.err

    # The text report has the same findings, one line each, in the same (sorted) order.
    text = run_cli("--repo-root", str(tmp_repo.root), "validate")
    assert text.code == 1
    lines = text.out.splitlines()
    assert lines == [f"{f['file']}: {f['path']}: {f['message']}; {f['hint']}" for f in doc["findings"]]
    assert [line.split(":")[0] for line in lines] == sorted(line.split(":")[0] for line in lines)


# ---------------------------------------------------------------- found by fuzzing and review


@pytest.mark.parametrize(
    "text, path, code, message",
    [
        (
            '{"pipeline_type": "byom_realtime_builtin", "\\ud800x": 1}',
            "$",
            "file-encoding",
            "unpaired UTF-16 surrogate",
        ),
        (
            '{"pipeline_type": "byom_realtime_builtin", "model_name": "a\\udc00"}',
            "$.model_name",
            "file-encoding",
            "unpaired UTF-16 surrogate",
        ),
        ('{\n  // note\n  "pipeline_type": "x"\n}', "$", "json-syntax", "line 2 column 3"),
        ('{"a": 1, /* x */ "b": 2}', "$", "json-syntax", "line 1 column 10"),
        ('{"a": "unterminated}', "$", "json-syntax", "line 1 column 7: Unterminated string starting"),
    ],
)
def test_more_hostile_inputs(tmp_repo, text: str, path: str, code: str, message: str) -> None:
    from tests.conftest import validate_findings

    [finding] = validate_findings(tmp_repo, text)
    assert (finding["path"], finding["code"]) == (path, code)
    assert message in finding["message"]
    if "/" in text:
        assert finding["hint"].startswith("JSON has no comments")


def test_a_surrogate_never_reaches_the_terminal_encoder(tmp_repo) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    tmp_repo.write("p", '{"pipeline_type": "byom_realtime_builtin", "\\ud800x": 1}')
    for fmt in ("text", "json", "junit"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlops_gitops",
                "--repo-root",
                str(tmp_repo.root),
                "validate",
                "--format",
                fmt,
            ],
            env={
                "PYTHONPATH": str(REPO_ROOT / "scripts"),
                "PATH": "/usr/bin:/bin",
                "PYTHONIOENCODING": "utf-8",
            },
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, done.stderr
        assert "internal error" not in done.stderr and "surrogate" in done.stdout


def test_problem_type_of_the_wrong_type_is_a_finding_not_a_crash(tmp_repo) -> None:
    from tests.conftest import example, validate_findings

    for value in ({}, [], 5):
        config = example("churn-bias")
        config["problem_type"] = value
        findings = validate_findings(tmp_repo, config)
        assert {(f["path"], f["code"]) for f in findings if f["severity"] == "error"} == {
            ("$.problem_type", "type")
        }


def test_output_to_a_folder_is_a_usage_error(tmp_repo, tmp_path) -> None:
    from tests.conftest import run_cli

    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--output", str(tmp_path))
    assert result.code == 2
    assert "cannot write the report" in result.err and "Traceback" not in result.err
