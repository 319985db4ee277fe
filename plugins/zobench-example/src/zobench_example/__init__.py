"""zobench-example: a template third-party plugin for zobench.

This module is the entry point (``[project.entry-points.zobench] example = "zobench_example"``).
zobench imports it and calls the registrar hooks it implements; each hook hands component
classes to ``register``, which checks their names and refuses duplicates.
"""

from __future__ import annotations

import zobench
from zobench_example.algorithm import RandomSearch, RandomSearchConfig
from zobench_example.preference import LapseLogistic, LapseLogisticConfig

__version__ = "0.1.0"
__all__ = ["LapseLogistic", "LapseLogisticConfig", "RandomSearch", "RandomSearchConfig"]


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register the example algorithm."""
    register(RandomSearch)


@zobench.hookimpl
def zobench_register_preference_models(register):
    """Register the example preference model."""
    register(LapseLogistic)
