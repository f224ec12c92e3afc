"""Check kinds: the Python half of the rules. Rule files name a kind and give its parameters.

A check kind is ``func(facts, params, context) -> Outcome``. It reads only facts (never the
host), takes thresholds and version floors from ``params`` (the rule's data), and returns a
verdict, a message a person can act on, the evidence, and the values for the rule's fix.
"""

from hostcheck.checks.kinds import (  # noqa: F401 (each module registers its check kinds)
    devices,
    firmware,
    functional,
    gpu,
    kernel,
    memory,
    software,
    tuning,
)
from hostcheck.checks.kinds._registry import CHECK_KINDS, FIX_FIELDS, REQUIRED_PARAMS
from hostcheck.checks.kinds._util import Context

__all__ = ["CHECK_KINDS", "FIX_FIELDS", "REQUIRED_PARAMS", "Context"]
