"""The build's starting environment: the buildspec's variables, its Parameter Store and Secrets
Manager values (resolved through the clients the caller gives) and the overrides, in CodeBuild's order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlops_gitops.local.buildspec.model import Buildspec, SecretRef
from mlops_gitops.local.buildspec.shell import _Log

# --------------------------------------------------------------------------------------------------
# Environment


class _PhaseError(Exception):
    """A phase failed for a reason of its own (not a command): status code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _parameters(names: Mapping[str, str], client: Any) -> dict[str, str]:
    """``env.parameter-store``: one ``GetParameters`` call (decrypted) per ten names. A name SSM does
    not know fails the build the way CodeBuild does: DOWNLOAD_SOURCE, "parameter does not exist"."""
    if client is None:
        raise _PhaseError(
            "Decrypted Variables Error", "no SSM client was given to resolve env.parameter-store"
        )
    wanted = list(dict.fromkeys(names.values()))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 10):
        chunk = wanted[start : start + 10]
        try:
            response = client.get_parameters(Names=chunk, WithDecryption=True)
        except Exception as exc:  # whatever the injected client raises becomes the phase's reason
            raise _PhaseError("Decrypted Variables Error", f"{type(exc).__name__}: {exc}") from None
        for parameter in response.get("Parameters", []):
            value = parameter.get("Value", "")
            name = parameter.get("Name", "")
            for key in (name, name + parameter.get("Selector", ""), parameter.get("ARN")):
                if key:
                    found[key] = value
        for name in chunk:
            if name not in found:
                raise _PhaseError("Decrypted Variables Error", f"parameter does not exist: {name}")
    return {variable: found[name] for variable, name in names.items()}


def _secrets(refs: Mapping[str, SecretRef], client: Any) -> dict[str, str]:
    """``env.secrets-manager``: ``GetSecretValue`` per reference; without a json-key the whole
    secret string, with one the key's value (JSON text when it is not a string)."""
    if client is None:
        raise _PhaseError(
            "Secrets Manager Error", "no Secrets Manager client was given to resolve env.secrets-manager"
        )
    out: dict[str, str] = {}
    for variable, ref in refs.items():
        request = {"SecretId": ref.secret_id}
        if ref.version_stage:
            request["VersionStage"] = ref.version_stage
        if ref.version_id:
            request["VersionId"] = ref.version_id
        try:
            response = client.get_secret_value(**request)
        except Exception as exc:  # whatever the injected client raises becomes the phase's reason
            raise _PhaseError(
                "Secrets Manager Error", f"{ref.reference}: {type(exc).__name__}: {exc}"
            ) from None
        secret = response.get("SecretString")
        if secret is None:
            secret = bytes(response.get("SecretBinary") or b"").decode("utf-8", "replace")
        if ref.json_key is None:
            out[variable] = secret
            continue
        try:
            document = json.loads(secret)
        except ValueError:
            raise _PhaseError("Secrets Manager Error", f"{ref.reference}: the secret is not JSON") from None
        if not isinstance(document, dict) or ref.json_key not in document:
            raise _PhaseError(
                "Secrets Manager Error", f"{ref.reference}: no key {ref.json_key!r} in the secret"
            )
        value = document[ref.json_key]
        out[variable] = value if isinstance(value, str) else json.dumps(value)
    return out


def _environment(
    buildspec: Buildspec,
    out: _Log,
    *,
    base_env: Mapping[str, str],
    overrides: Mapping[str, str],
    builtins: Mapping[str, str],
    ssm_client: Any,
    secrets_client: Any,
) -> tuple[dict[str, str], list[str]]:
    """The build's starting environment and the values to mask (see :func:`run_build` for the order)."""
    out.container("Processing environment variables")
    env = {**base_env, **builtins, **buildspec.env.variables}
    hidden: list[str] = []
    if buildspec.env.parameter_store:
        out.container("Decrypting parameter store environment variables")
        values = _parameters(buildspec.env.parameter_store, ssm_client)
        env.update(values)
        hidden.extend(values.values())
    if buildspec.env.secrets_manager:
        values = _secrets(buildspec.env.secrets_manager, secrets_client)
        env.update(values)
        hidden.extend(values.values())
    env.update(overrides)
    return env, hidden
