"""Resource options children of a component get."""

from __future__ import annotations

from typing import Optional

import pulumi


def child_opts(parent: pulumi.Resource, opts: Optional[pulumi.ResourceOptions] = None, **extra) -> pulumi.ResourceOptions:
    """`parent=` the component, plus the component's own `depends_on`.

    Providers reach children through the parent; `depends_on` does not, and a child such as a
    ServiceAccount must still wait for the namespace the caller made the component depend on.
    """
    depends_on = list(opts.depends_on or []) if opts is not None and isinstance(opts.depends_on, list) else []
    if opts is not None and opts.depends_on is not None and not isinstance(opts.depends_on, list):
        depends_on = [opts.depends_on]
    extra_deps = extra.pop("depends_on", None) or []
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on + list(extra_deps) or None, **extra)
