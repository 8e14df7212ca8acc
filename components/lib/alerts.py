"""One alerting rule as data, rendered the same way for platform and service rule groups."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..conventions import Severity


class AlertRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alert: str = Field(pattern=r"^[A-Z][A-Za-z0-9]+$", description="Alert name (CamelCase).")
    expr: str = Field(description="PromQL condition.")
    for_: str = Field(description="How long the condition must hold before firing ('0s' fires at once).")
    severity: Severity = Field(description="Routing severity.")
    summary: str = Field(description="One-line summary (may use $labels).")
    description: str = Field(description="What is wrong and where (may use $labels and $value).")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels besides severity.")
    keep_firing_for: str = Field("", description="How long it keeps firing once the condition stops holding ('' resolves at once).")

    def to_rule(self, runbook_base_url: str) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "expr": self.expr,
            "for": self.for_,
            **({"keep_firing_for": self.keep_firing_for} if self.keep_firing_for else {}),
            "labels": {"severity": self.severity, **self.labels},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{runbook_base_url}#{self.alert.lower()}",
            },
        }
