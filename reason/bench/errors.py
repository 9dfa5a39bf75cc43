"""Errors specific to benchmark runs, under the `reason.errors` tree.

Leaves out: generation and grading failures, which keep their own types
(`GeneratorError`, verdicts of status 'error').
"""

from __future__ import annotations

from reason.errors import ConfigError


class DatasetError(ConfigError):
    """A dataset cannot be read: unknown name, missing file, or a malformed line (with its number)."""


class RunDirError(ConfigError):
    """A run directory is unusable: locked by another run, written by a different config, or corrupt."""
