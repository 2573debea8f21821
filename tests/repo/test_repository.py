"""Checks over this repository's real content: schemas, examples, layout, module rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mlops_gitops import awsdata
from mlops_gitops.config.schema import load_schema
from tests.conftest import CONFIGS, EXAMPLES, REPO_ROOT, run_cli

pytestmark = pytest.mark.repo

SCHEMA_PATH = CONFIGS / "mlops-config.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())


@pytest.mark.parametrize("name", ["mlops-config.schema.json", "environments.schema.json"])
def test_schemas_are_valid_json_schema_2020_12(name: str) -> None:
    schema = json.loads((CONFIGS / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_field_has_a_description_and_a_type() -> None:
    for name, spec in SCHEMA["properties"].items():
        assert spec.get("description"), f"{name} has no description"
        assert {"type", "anyOf", "$ref", "enum", "const"} & set(spec), f"{name} has no type"


def test_optional_scalar_fields_document_their_default_or_absence() -> None:
    schema = load_schema(SCHEMA_PATH)
    required = {f for t in schema.types.values() for f in t.required}
    for name, info in schema.fields.items():
        if name in required or name in ("$schema", "pipeline_type", "description", "owner"):
            continue
        text = info.description.lower()
        has_default = "default" in info.schema or "default" in info.scalar
        says = any(w in text for w in ("default", "absent", "optional", "empty", "unless", "required for"))
        assert has_default or says or info.scalar_is_object or "type" not in info.scalar, (
            f"{name}: no default"
        )


def test_every_pipeline_type_has_a_type_definition_using_known_fields() -> None:
    schema = load_schema(SCHEMA_PATH)
    assert len(schema.types) == 15
    for ptype, info in schema.types.items():
        unknown = info.fields - set(schema.fields)
        assert not unknown, f"{ptype} lists unknown fields {unknown}"
        assert set(info.required) <= info.fields, f"{ptype}: a required field is not in x-fields"
        conditions = [c for c in SCHEMA["allOf"] if c["if"]["properties"]["pipeline_type"]["const"] == ptype]
        assert len(conditions) == 1 and conditions[0]["then"]["$ref"] == f"#/$defs/type_{ptype}"


def test_mwo_stageable_fields_are_stageable() -> None:
    # MWO's reference list of fields that accept {"dev": ..., "staging": ..., "prod": ...}
    mwo = ["kms_key_arn", "inference_instance", "data_capture_location", "endpoint_name", "batch_inference_data",
           "batch_job_output_location", "baseline_job_output_location", "instance_type", "instance_volume_size",
           "baseline_max_runtime_seconds", "monitor_max_runtime_seconds", "monitoring_output_location",
           "schedule_expression", "monitor_ground_truth_input"]  # fmt: skip
    schema = load_schema(SCHEMA_PATH)
    assert [f for f in mwo if not schema.fields[f].stageable] == []


def _botocore_enum_specs(node, found):
    if isinstance(node, dict):
        if "x-botocore-enum" in node:
            found.append(node["x-botocore-enum"])
        for value in node.values():
            _botocore_enum_specs(value, found)
    elif isinstance(node, list):
        for value in node:
            _botocore_enum_specs(value, found)
    return found


def test_botocore_enum_annotations_name_real_shapes() -> None:
    specs = _botocore_enum_specs(SCHEMA, [])
    assert len(specs) >= 10
    for spec in specs:
        service = spec.get("service", "sagemaker")
        for shape in [spec["shape"], *spec.get("by_pipeline_type", {}).values()]:
            assert awsdata.enum_values(shape, service), f"{service}:{shape}"


def test_examples_cover_every_pipeline_type_and_point_at_the_schema() -> None:
    types = set()
    for path in EXAMPLES.values():
        data = json.loads(path.read_text())
        types.add(data["pipeline_type"])
        assert data["$schema"] == "../mlops-config.schema.json"
    assert types == set(SCHEMA["properties"]["pipeline_type"]["enum"])


def test_the_repository_validates_clean() -> None:
    result = run_cli("--repo-root", str(REPO_ROOT), "validate", "--format", "json")
    assert result.code == 0, result.out
    assert result.json["findings"] == []
    assert result.json["checked"] == len(EXAMPLES) + 1  # + environments.json


def test_layout_and_ci_entry() -> None:
    for name in [
        "pipeline-configs",
        "buildspecs",
        "cloudformation",
        "scripts",
        "tests",
        "README.md",
        "Makefile",
        "pyproject.toml",
    ]:
        assert (REPO_ROOT / name).exists(), name
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()


def _fresh_python(code: str, cache: Path | None = None) -> str:
    """``code``'s standard output, run by a new interpreter that sees only scripts/ (and, if given,
    ``cache`` as mlopsctl's cache directory): what it imports is what the code imports."""
    import subprocess
    import sys

    env = {"PYTHONPATH": str(REPO_ROOT / "scripts"), "PATH": "/usr/bin:/bin"}
    if cache is not None:
        env["MLOPS_GITOPS_CACHE_DIR"] = str(cache)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    return done.stdout


def test_validate_does_not_import_boto3_or_botocore_at_run_time(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mlops_gitops.cli import main\n"
        f"rc = main(['--repo-root', {str(REPO_ROOT)!r}, 'validate'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'cfnlint'))\n"
        "print(rc, heavy)\n"
    )
    _fresh_python(code, tmp_path)  # fills the cache
    assert _fresh_python(code, tmp_path).strip() == "0 []"


def test_building_the_command_line_imports_no_verbs_module() -> None:
    """Every mlopsctl run builds the whole parser before it does anything (and `validate --templates`
    before it starts its lint server): the help texts' defaults come from mlops_gitops.defaults, not
    from the modules doing the work (~0.15 s of imports for ops.bootstrap, local.server and
    config.environments)."""
    code = (
        "import sys\n"
        "from mlops_gitops.cli import build_parser\n"
        "build_parser()\n"
        "mine = sorted(m for m in sys.modules if m.startswith('mlops_gitops.') and not m.startswith('mlops_gitops.cli'))\n"
        "mine += sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'yaml', 'boto3', 'botocore', 'cfnlint'))\n"
        "print(' '.join(mine))\n"
    )
    out = _fresh_python(code)
    assert set(out.split()) <= {"mlops_gitops.defaults", "mlops_gitops.errors"}, out


def test_validate_templates_starts_the_lint_before_importing_the_config_checks(tmp_path: Path) -> None:
    """The lint server's boot is a cold `validate --templates`'s first, serial step: it is started
    before the config checks' modules (jsonschema...) are imported, which then load while it boots."""
    code = (
        "import sys\n"
        "from mlops_gitops.core import lint\n"
        "seen = []\n"
        "real = lint.start_lint\n"
        "def start_lint(*args, **kwargs):\n"
        "    seen.append(sorted(m for m in ('mlops_gitops.config.validate', 'jsonschema') if m in sys.modules))\n"
        "    return real(*args, **kwargs)\n"
        "lint.start_lint = start_lint\n"
        "from mlops_gitops.cli import main\n"
        f"rc = main(['--repo-root', {str(REPO_ROOT)!r}, 'validate', '--templates'])\n"
        "print(rc, seen)\n"
    )
    out = _fresh_python(code, tmp_path)
    assert out.strip() == "0 [[]]", out
