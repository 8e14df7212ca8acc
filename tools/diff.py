"""Render a stack at a base git ref and in the working tree, and print what changed.

    python -m tools.diff --stack dev [--base origin/main]        (make diff STACK=dev BASE=origin/main)

The base is rendered with its own code and stack file (a temporary git worktree), the working tree
with yours. First comes what `pulumi up` does with each change (`tools/changes.py`): every resource
and every object the releases' pinned charts render (where `../shared/charts` or `$CHARTS_DIR` has
them) classified as updated, created, deleted, retained, replaced, or refused (a change the cluster
will not apply, which would fail the `up`); then the diff of the rendered files, options included.
It also names the secrets the change adds (a new receiver's webhook): set them before `pulumi up`.
Exit status, as `diff`'s: 0 when nothing changed, 1 when something did, 2 when either side cannot
be rendered, 3 when a change would be refused. `make diff` treats 1 as success (a difference is
what a reviewer asked to see), 2 and 3 as failures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _render(project: Path, stack: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.render", "--stack", stack, "--out", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _added_secrets(base: Path, head: Path) -> list[str]:
    """Secret keys the head needs and the base did not (a base rendered before secrets.json existed names none)."""
    if not (base / "secrets.json").exists():
        return []
    before = set(json.loads((base / "secrets.json").read_text())["needed"])
    return [key for key in json.loads((head / "secrets.json").read_text())["needed"] if key not in before]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--base", default="origin/main", help="git ref to compare with (default origin/main)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        worktree = work / "base-tree"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), args.base], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        if added.returncode != 0:
            print(f"diff: cannot check out {args.base}: {added.stderr.strip()}", file=sys.stderr)
            return 2
        try:
            base = _render(worktree, args.stack, work / "base")
            head = _render(ROOT, args.stack, work / "head")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True, timeout=120)
        for side, proc in (("working tree", head), (args.base, base)):
            if proc.returncode != 0:
                print(f"diff: {side} does not render:\n{proc.stderr}", file=sys.stderr)
                return 2
        classified = subprocess.run(
            [sys.executable, "-m", "tools.changes", str(work / "base"), str(work / "head")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        print(f"== what `pulumi up` does to stack {args.stack} ==", classified.stderr + classified.stdout, sep="\n")
        new_secrets = _added_secrets(work / "base", work / "head")
        if new_secrets:
            print(f"== secrets this change adds (set each before `pulumi up`; names only) ==\n{', '.join(new_secrets)}")
        # Paths read base/<file> (at the base ref) and head/<file> (the working tree).
        diff = subprocess.run(["diff", "-ruN", "base", "head"], cwd=work, capture_output=True, text=True, timeout=120)
        print(f"== rendered files ==\n{diff.stdout}", end="")
        if diff.returncode == 0:
            print(f"No change to stack {args.stack} against {args.base}.")
        return 3 if classified.returncode == 1 else diff.returncode


if __name__ == "__main__":
    sys.exit(main())
