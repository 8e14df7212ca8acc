"""Policy pack entry point: `pulumi preview --policy-pack policy` runs these guardrails."""

from guardrails import POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name="eks-observability-guardrails", policies=POLICIES)
