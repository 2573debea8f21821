"""The checks the schema can't express, one module per area; importing this package registers
them all (see base.check)."""

from mlops_gitops.config.rules import model_card, models, notify, secrets, semantic, types, variants  # noqa: F401  (they register)
from mlops_gitops.config.rules.base import Context, semantic_findings

__all__ = ["Context", "semantic_findings"]
