"""Our security policy as cfn-lint custom rules (ids E91xx), loaded with cfn-lint's append_rules.

One rule per file, as cfn-lint's own rules are. Shared walking helpers live in ``_walk.py``.
"""

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parent
