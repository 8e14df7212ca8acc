"""Evaluate the Argo Rollouts analysis conditions this program emits, for tests.

Argo evaluates conditions with expr-lang (Go). The program emits exactly one shape of condition,
`len(result) > 0 && !isNaN(result[0]) && result[0] <op> <number>`; this checks a condition has that
shape and evaluates it with the same semantics (left-to-right short-circuit `&&`), so a test can say
what Argo decides for the values promtool computed.
"""

from __future__ import annotations

import math
import operator
import re

_SHAPE = re.compile(r"^len\(result\) > 0 && !isNaN\(result\[0\]\) && result\[0\] (<|>=) ([0-9.e+-]+)$")
_OPS = {"<": operator.lt, ">=": operator.ge}


def evaluate(condition: str, result: list[float]) -> bool:
    match = _SHAPE.match(condition)
    if not match:
        raise ValueError(f"condition outside the supported shape: {condition!r}")
    if not len(result) > 0:
        return False
    if math.isnan(result[0]):
        return False
    return _OPS[match.group(1)](result[0], float(match.group(2)))


def phase(success: str, failure: str, result: list[float]) -> str:
    """The measurement phase Argo Rollouts assigns (failure is checked first, as Argo does)."""
    if evaluate(failure, result):
        return "Failed"
    if evaluate(success, result):
        return "Successful"
    return "Inconclusive"
