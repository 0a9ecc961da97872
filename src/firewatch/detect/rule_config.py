"""Declarative alert rules (the config's ``rules:``) and the built-in ones for the seed's alerts.

A rule watches one signal of each model it applies to (or a PromQL expression) and fires when a
condition holds for ``for``; it clears when the condition has been false for ``keep_firing_for``.

Built-in rules, and why their defaults (override any by name in ``rules:``; ``enabled: false``
turns one off):

=================== ===================== ============================= ========== =========
rule                signal                condition                     for        severity
=================== ===================== ============================= ========== =========
HighErrorRate       error_rate            above 5% (the seed's alert)   0s         HIGH, raised
                                                                                   by the rate
ErrorRateAnomaly    error_rate            4 robust deviations above its 2m         SEV3, raised
                                          own 1-hour baseline and at
                                          least 1 point higher
SlowResponses       latency_mean_s        above 1 s: well past what an  2m         SEV3 (the
                                          online model is expected to              seed's "slow
                                          answer in, sustained                     responses")
AccuracyLow         accuracy              below 85% (the seed's alert)  0s         HIGH, raised
                                                                                   by the drop
DataDrift           data_drift            the share of drifted features 0s (keeps   SEV3: quality
                                          reaches drift.drift_share     firing     at risk, not
                                          (0.5, Evidently's default)    10m)       yet lost
PredictionDrift     prediction_drift      the predictions drifted       0s         SEV3
LabelDrift          label_drift           the labels' mix drifted       0s         SEV4
DataQuality         data_quality          any finding (nulls, ranges,   0s         SEV3
                                          new categories, schema)
HighMemory          memory_fraction       above 90% of limits.memory    5m         SEV3: OOM-kill
                                                                                   is near
HighCPU             cpu_fraction          above 90% of limits.cpu       10m        SEV4: latency
                                                                                   at risk
=================== ===================== ============================= ========== =========
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.duration import Duration
from firewatch.severity import Severity


class Signal(StrEnum):
    """What rules can watch. Scrapes of ``/metrics`` give the first seven; inference events give
    accuracy (and error rate / latency for models that have no ``/metrics``)."""

    ERROR_RATE = "error_rate"  # share of failed requests over the scrape window
    REQUEST_RATE = "request_rate"  # requests per second
    LATENCY_MEAN_S = "latency_mean_s"  # mean latency over the window, seconds
    MEMORY_BYTES = "memory_bytes"  # resident memory of the serving process
    MEMORY_FRACTION = "memory_fraction"  # memory_bytes / limits.memory_bytes
    CPU_CORES = "cpu_cores"  # CPU used, in cores
    CPU_FRACTION = "cpu_fraction"  # cpu_cores / limits.cpu_cores
    LATENCY_P95_S = "latency_p95_s"  # from inference events
    ACCURACY = "accuracy"  # from inference events joined with labels
    PROBE_LATENCY_S = "probe_latency_s"  # the health probe's own latency
    PRECISION = "precision"  # classification, from joined labels (macro over classes)
    RECALL = "recall"
    F1 = "f1"
    ROC_AUC = "roc_auc"  # binary classification, from events' scores
    MAE = "mae"  # regression, from joined labels
    RMSE = "rmse"
    DATA_DRIFT = "data_drift"  # 1 when the share of drifted features reaches drift_share
    PREDICTION_DRIFT = "prediction_drift"  # 1 when the predictions' distribution drifted
    LABEL_DRIFT = "label_drift"  # 1 when the labels' distribution drifted
    DATA_QUALITY = "data_quality"  # data quality findings in the current window


class Condition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    ANOMALY = "anomaly"


class AnomalyConfig(BaseModel):
    """Deviation from the signal's own rolling baseline (median and median absolute deviation
    of per-minute values), robust to the spikes it is looking for."""

    model_config = ConfigDict(extra="forbid")

    baseline: Duration = Field(
        timedelta(hours=1), description="How much history the baseline uses."
    )
    deviations: float = Field(4.0, gt=0, description="How many robust deviations count.")
    min_change: float = Field(0.0, ge=0, description="Ignore changes smaller than this (absolute).")
    direction: Literal["up", "down", "both"] = "up"
    min_points: int = Field(10, ge=3, description="Per-minute points needed before judging.")


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(description="The alertname.")
    enabled: bool = True
    signal: Signal | None = Field(None, description="What to watch (or give promql).")
    promql: str | None = Field(None, description="A PromQL expression (needs prometheus.url).")
    model_label: str = Field("model", description="PromQL: the label naming the model.")
    condition: Condition = Condition.ABOVE
    threshold: float | None = None
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    for_: Duration = Field(timedelta(0), alias="for", description="Must hold this long to fire.")
    keep_firing_for: Duration = Field(timedelta(0), description="Keep firing this long after.")
    interval: Duration = Field(timedelta(seconds=15), description="PromQL: evaluation interval.")
    severity: Severity | Literal["classify"] = Field(
        "classify", description="A fixed severity, or 'classify' from what is observed."
    )
    models: list[str] = Field(default_factory=lambda: ["*"], description="Model name patterns.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(
        default_factory=dict, description="May use {model}, {value}, {threshold}, {signal}."
    )
    runbook: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> RuleConfig:
        if (self.signal is None) == (self.promql is None):
            raise ValueError(f"rule {self.name}: give either signal or promql")
        if self.promql is not None and self.condition is Condition.ANOMALY:
            raise ValueError(
                f"rule {self.name}: anomaly needs a signal; PromQL rules use thresholds"
            )
        if self.condition is not Condition.ANOMALY and self.threshold is None:
            raise ValueError(
                f"rule {self.name}: condition {self.condition.value} needs a threshold"
            )
        return self


def builtin_rules() -> list[RuleConfig]:
    return [
        RuleConfig.model_validate(r)
        for r in (
            {
                "name": "HighErrorRate",
                "signal": "error_rate",
                "threshold": 0.05,
                "severity": "SEV2",
                "annotations": {
                    "summary": "Model {model} error rate {value_pct}",
                    "description": "{value_pct} of requests failed (threshold {threshold_pct}).",
                },
            },
            {
                "name": "ErrorRateAnomaly",
                "signal": "error_rate",
                "condition": "anomaly",
                "for": "2m",
                "anomaly": {"min_change": 0.01},
                "severity": "SEV3",
                "annotations": {
                    "summary": "Model {model} error rate {value_pct} is far above its usual level"
                },
            },
            {
                "name": "SlowResponses",
                "signal": "latency_mean_s",
                "threshold": 1.0,
                "for": "2m",
                "severity": "SEV3",
                "annotations": {
                    "summary": "Model {model} responds slowly: {value:.2f} s on average"
                },
            },
            {
                "name": "AccuracyLow",
                "signal": "accuracy",
                "condition": "below",
                "threshold": 0.85,
                "severity": "SEV2",
                "annotations": {
                    "summary": "Model {model} accuracy {value_pct} (below {threshold_pct})"
                },
            },
            {
                "name": "DataDrift",
                "signal": "data_drift",
                "threshold": 0.5,
                "keep_firing_for": "10m",
                "severity": "SEV3",
                "annotations": {"summary": "Model {model}: its input data drifted"},
            },
            {
                "name": "PredictionDrift",
                "signal": "prediction_drift",
                "threshold": 0.5,
                "keep_firing_for": "10m",
                "severity": "SEV3",
                "annotations": {"summary": "Model {model}: its predictions drifted"},
            },
            {
                "name": "LabelDrift",
                "signal": "label_drift",
                "threshold": 0.5,
                "keep_firing_for": "10m",
                "severity": "SEV4",
                "annotations": {"summary": "Model {model}: the true labels' mix changed"},
            },
            {
                "name": "DataQuality",
                "signal": "data_quality",
                "threshold": 0,
                "keep_firing_for": "10m",
                "severity": "SEV3",
                "annotations": {"summary": "Model {model}: {value:.0f} data quality problem(s)"},
            },
            {
                "name": "HighMemory",
                "signal": "memory_fraction",
                "threshold": 0.9,
                "for": "5m",
                "severity": "SEV3",
                "annotations": {"summary": "Model {model} uses {value_pct} of its memory limit"},
            },
            {
                "name": "HighCPU",
                "signal": "cpu_fraction",
                "threshold": 0.9,
                "for": "10m",
                "severity": "SEV4",
                "annotations": {"summary": "Model {model} uses {value_pct} of its CPU limit"},
            },
        )
    ]


def merge_rules(configured: list[RuleConfig]) -> list[RuleConfig]:
    """Built-ins, each replaced by a configured rule of the same name; then the new ones."""
    by_name = {rule.name: rule for rule in configured}
    merged = [by_name.pop(rule.name, rule) for rule in builtin_rules()]
    return [rule for rule in [*merged, *by_name.values()] if rule.enabled]
