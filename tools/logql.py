"""LogQL syntax, checked with Grafana's own LogQL grammar (`@grafana/lezer-logql`, the parser of Grafana's
Loki query editor), run by the machine's Node.js from `tools/logql-grammar/`.

    python -m tools.logql install              # npm ci of the pinned grammar (make tools does it)
    python -m tools.logql check '<expr>' ...   # prints each expression's syntax errors

Loki's own parser is Go under the AGPL and no Loki runs here: the grammar catches what breaks a query's
syntax (brackets, matchers, pipeline stages, range vectors); it cannot say whether a label exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

GRAMMAR = Path(__file__).resolve().parent / "logql-grammar"
TIMEOUT_S = 120


class LogqlToolError(RuntimeError):
    """Node.js or the pinned grammar is not available."""


def installed() -> bool:
    return (GRAMMAR / "node_modules" / "@grafana" / "lezer-logql" / "package.json").is_file()


def install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise LogqlToolError("npm not found: Node.js 20+ with npm is needed for the LogQL grammar")
    if not installed():
        # `npm ci`: exactly the versions package-lock.json pins, or a failure.
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(GRAMMAR)], check=True, timeout=TIMEOUT_S)


def syntax_errors(exprs: Sequence[str]) -> list[list[int]]:
    """For each expression, the offsets of its syntax errors (none: it parses)."""
    node = shutil.which("node")
    if node is None or not installed():
        raise LogqlToolError(f"the LogQL grammar is not installed in {GRAMMAR}: run `make tools`")
    proc = subprocess.run(
        [node, str(GRAMMAR / "check.mjs")], input=json.dumps(list(exprs)), capture_output=True, text=True, timeout=TIMEOUT_S, cwd=GRAMMAR
    )
    if proc.returncode != 0:
        raise LogqlToolError(f"check.mjs failed: {proc.stderr.strip()[-2000:]}")
    return [list(found) for found in json.loads(proc.stdout)]


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["install"]:
        install()
        return 0
    if argv[:1] != ["check"] or len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    exprs = list(argv[1:])
    bad = 0
    for expr, errors in zip(exprs, syntax_errors(exprs), strict=True):
        bad += bool(errors)
        print(f"{'ok  ' if not errors else 'BAD '} {expr}" + (f"   (errors at {errors})" if errors else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
