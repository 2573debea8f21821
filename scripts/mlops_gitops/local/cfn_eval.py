"""Kept for existing imports: the evaluator lives in :mod:`mlops_gitops.cfn_eval` (a leaf module),
so that core's name checks can use it too."""

from mlops_gitops.cfn_eval import NO_VALUE, EvalError, Evaluator, parameter_values

__all__ = ["NO_VALUE", "EvalError", "Evaluator", "parameter_values"]
