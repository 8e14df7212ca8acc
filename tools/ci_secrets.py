"""Set the secrets a stack's config needs, from the CI job's environment, into the runner's stack config.

    python -m tools.ci_secrets --stack prod           set them with `pulumi config set --secret`
    python -m tools.ci_secrets --stack prod --check   only say which are missing
    python -m tools.ci_secrets --stack prod --names   list them (names only): what a preview, which
                                                      runs on placeholders, shows the reviewer

Each secret config key comes from the environment variable of the same name in upper snake case
(`grafanaAdminPassword` from `GRAFANA_ADMIN_PASSWORD`), which the workflow fills from the GitHub
environment's secrets. The value goes to the CLI on standard input, never on a command line or in a
log, and never into a committed file: the stack file on the runner is thrown away with the job.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.stack import ConfigError, required_secrets  # noqa: E402
from tools.mockrun import ROOT, report_invalid, stack_config  # noqa: E402


def env_name(key: str) -> str:
    """`grafanaAdminPassword` -> `GRAFANA_ADMIN_PASSWORD`."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).upper()


def needed(stack: str, project_dir: Path = ROOT) -> list[str]:
    """Secret config keys Pulumi.<stack>.yaml needs at deploy time."""
    return required_secrets(stack_config(stack, project_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--check", action="store_true", help="only report missing environment variables")
    parser.add_argument("--environment", help="the GitHub environment holding the secrets (default: the stack's own)")
    parser.add_argument("--names", action="store_true", help="only list the secrets the stack needs and where they belong")
    args = parser.parse_args(argv)
    try:
        keys = needed(args.stack)
    except ConfigError as err:
        return report_invalid("ci_secrets", args.stack, err)
    environment = args.environment or args.stack
    if args.names:
        listed = ", ".join(f"{key} ({env_name(key)})" for key in keys) or "none"
        print(f"ci_secrets: {args.stack} needs these secrets in the GitHub environment {environment!r}: {listed}")
        return 0
    missing = [key for key in keys if not os.environ.get(env_name(key))]
    for key in missing:
        print(
            f"ci_secrets: {key} is required by Pulumi.{args.stack}.yaml; add the secret {env_name(key)} to the GitHub "
            f"environment {environment!r} and pass it to this step's env.",
            file=sys.stderr,
        )
    if missing:
        return 2
    if args.check:
        print(f"ci_secrets: {len(keys)} secrets present for {args.stack}: {', '.join(keys) or 'none'}")
        return 0
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        print("ci_secrets: the Pulumi CLI is not installed on this runner", file=sys.stderr)
        return 2
    for key in keys:
        subprocess.run(
            [pulumi, "config", "set", "--secret", "--stack", args.stack, f"eks-observability:{key}"],
            input=os.environ[env_name(key)],
            text=True,
            check=True,
            cwd=ROOT,
            timeout=120,
        )
        print(f"ci_secrets: set {key} for {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
