"""Local stand-ins for AWS services that moto cannot run (embedded mode).

``buildspec`` runs CodeBuild buildspec 0.2 files on this machine with CodeBuild's phase, shell and
environment semantics; moto's CodeBuild accepts ``start_build`` but never executes anything.
"""
