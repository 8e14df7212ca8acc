"""The label names a PromQL expression reads, groups by or writes, from its parsed form.

A regex over the text cannot tell a label from a function (`timestamp(up)`) or see a quoted label
name (`up{"user_id"="1"}`, Prometheus 3); the parser (promql-parser, the Rust parser's bindings)
can. Used to refuse teams' alerts on forbidden labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promql_parser

# Functions whose string arguments at these positions name labels (from the PromQL reference):
# label_replace(v, dst, replacement, src, regex), label_join(v, dst, separator, src...),
# sort_by_label(v, label...).
_LABEL_ARGUMENTS: dict[str, tuple[int, ...] | str] = {
    "label_replace": (1, 3),
    "label_join": "1,3+",
    "sort_by_label": "1+",
    "sort_by_label_desc": "1+",
}


def _positions(spec: tuple[int, ...] | str, count: int) -> list[int]:
    if isinstance(spec, tuple):
        return [i for i in spec if i < count]
    found: list[int] = []
    for part in spec.split(","):
        found += list(range(int(part[:-1]), count)) if part.endswith("+") else [int(part)]
    return found


def _children(node: Any) -> Iterator[Any]:
    for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None:
            yield child
    yield from getattr(node, "args", None) or ()


def _names(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        for group in [node.matchers.matchers, *(node.matchers.or_matchers or [])]:
            yield from (m.name for m in group if m.name != "__name__")
    elif isinstance(node, promql_parser.AggregateExpr):
        if node.modifier is not None:
            yield from node.modifier.labels
        if str(node.op) == "count_values" and isinstance(node.param, promql_parser.StringLiteral):
            yield node.param.val  # the label count_values writes
    elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
        if node.modifier.matching is not None:
            yield from node.modifier.matching.labels
        yield from node.modifier.group_labels or ()
    elif isinstance(node, promql_parser.Call) and node.func.name in _LABEL_ARGUMENTS:
        for i in _positions(_LABEL_ARGUMENTS[node.func.name], len(node.args)):
            if isinstance(node.args[i], promql_parser.StringLiteral):
                yield node.args[i].val
    for child in _children(node):
        yield from _names(child)


def label_names(expr: str) -> set[str]:
    """Every label name `expr` matches on, aggregates or matches by, or writes; ValueError if it does not parse."""
    try:
        tree = promql_parser.parse(expr)
    except (ValueError, RuntimeError) as err:
        raise ValueError(str(err).splitlines()[0]) from None
    return set(_names(tree))
