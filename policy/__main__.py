"""Policy pack entry point: `pulumi preview --policy-pack policy` runs these guardrails."""

from pulumi_policy import PolicyPack

from guardrails import POLICIES

PolicyPack(name="eks-observability-guardrails", policies=POLICIES)
