"""mlops-gitops: GitOps for machine-learning pipelines on AWS."""

__version__ = "0.1.0"
