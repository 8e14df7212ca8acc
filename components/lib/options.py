"""Resource options children of a component get."""

from __future__ import annotations

from typing import Any, Optional

import pulumi


def child_opts(parent: pulumi.Resource, opts: Optional[pulumi.ResourceOptions] = None, **extra: Any) -> pulumi.ResourceOptions:
    """`parent=` the component, plus the component's own `depends_on` and any `extra` options.

    Providers reach children through the parent; `depends_on` does not, and a child such as a
    ServiceAccount must still wait for the namespace the caller made the component depend on.
    """
    given = opts.depends_on if opts is not None else None
    inherited: list[Any] = [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
    depends_on = [*inherited, *(extra.pop("depends_on", None) or [])]
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on or None, **extra)
