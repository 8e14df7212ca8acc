"""Where a stack deploys, from its own config, for CI: the cluster's name and region.

    python -m tools.ci_target --stack prod >> "$GITHUB_OUTPUT"

Prints `cluster=<name>` and `region=<region>` from Pulumi.<stack>.yaml, so the workflows never
repeat them (a second copy drifts the first time a user moves a stack to another cluster or
region). Exits 2 with the config's problems if the stack file is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.stack import ConfigError  # noqa: E402
from tools.mockrun import ROOT, report_invalid, stack_config  # noqa: E402


def target(stack: str, project_dir: Path = ROOT) -> dict[str, str]:
    config = stack_config(stack, project_dir)
    return {"cluster": config.cluster.name, "region": config.cluster.region}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        found = target(args.stack)
    except ConfigError as err:
        return report_invalid("ci_target", args.stack, err)
    for key, value in found.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
