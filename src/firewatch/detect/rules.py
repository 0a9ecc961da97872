"""The rule engine: evaluates rules over the signal store and reports alerts as they fire and
clear (``for`` and ``keep_firing_for`` semantics as in Prometheus)."""

from __future__ import annotations

import fnmatch
import logging
import statistics
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import Clock
from firewatch.config import ModelConfig
from firewatch.detect.rule_config import Condition, RuleConfig, Signal
from firewatch.detect.signals import Sample, SignalStore
from firewatch.detect.sink import DetectionSink
from firewatch.detect.trackers import Transition
from firewatch.severity import Signals

log = logging.getLogger(__name__)

SOURCES = dict.fromkeys(
    (
        Signal.ACCURACY,
        Signal.LATENCY_P95_S,
        Signal.PRECISION,
        Signal.RECALL,
        Signal.F1,
        Signal.ROC_AUC,
        Signal.MAE,
        Signal.RMSE,
        Signal.DATA_DRIFT,
        Signal.PREDICTION_DRIFT,
        Signal.LABEL_DRIFT,
        Signal.DATA_QUALITY,
    ),
    "events",
)


@dataclass
class RuleTracker:
    """Pending → firing after ``for``; firing → clear after ``keep_firing_for`` of false."""

    for_: timedelta
    keep_firing_for: timedelta
    pending_since: datetime | None = None
    last_true: datetime | None = None
    firing: bool = False

    def step(self, holds: bool | None, now: datetime) -> Transition | None:
        if holds is None:  # no data: nothing changes (the health probe covers absence)
            return None
        if holds:
            self.last_true = now
            if self.pending_since is None:
                self.pending_since = now
            if not self.firing and now - self.pending_since >= self.for_:
                self.firing = True
                return Transition.FIRE
            return None
        self.pending_since = None
        if (
            self.firing
            and self.last_true is not None
            and now - self.last_true >= self.keep_firing_for
        ):
            self.firing = False
            return Transition.CLEAR
        return None


def condition_holds(
    rule: RuleConfig,
    sample: Sample,
    store: SignalStore,
    model: str,
    episode_since: datetime | None = None,
) -> bool | None:
    """Whether the rule's condition holds for this sample; None when it cannot be judged yet.

    An anomaly's baseline ends where the current episode began (``episode_since``), so an
    ongoing anomaly never becomes part of the normal it is compared with."""
    if rule.condition is Condition.ABOVE:
        return sample.value > (rule.threshold or 0.0)
    if rule.condition is Condition.BELOW:
        return sample.value < (rule.threshold or 0.0)
    anomaly = rule.anomaly
    minute = sample.at.replace(second=0, microsecond=0)
    before = min(minute, (episode_since or minute).replace(second=0, microsecond=0))
    history = store.baseline(
        model, str(rule.signal), since=before - anomaly.baseline, before=before
    )
    if len(history) < anomaly.min_points:
        return None
    median = statistics.median(history)
    spread = 1.4826 * statistics.median(abs(v - median) for v in history)
    change = sample.value - median
    if anomaly.direction == "up":
        size = change
    elif anomaly.direction == "down":
        size = -change
    else:
        size = abs(change)
    floor = max(anomaly.min_change, 1e-12)
    return size >= floor and size > anomaly.deviations * spread


def signals_for_classifier(
    signal: Signal | None,
    value: float,
    model: ModelConfig | None,
    baseline: float | None = None,
) -> Signals | None:
    """What the severity classifier should see when a rule on this signal fires (``baseline``:
    the accuracy measured on the reference data, when the config gives none)."""
    if signal is Signal.ERROR_RATE:
        return Signals(failure_rate=min(1.0, max(0.0, value)))
    if signal in (Signal.LATENCY_MEAN_S, Signal.LATENCY_P95_S):
        return Signals(slow=True)
    expected = (model.baseline_accuracy if model else None) or baseline
    if signal is Signal.ACCURACY and expected:
        return Signals(accuracy=min(1.0, max(0.0, value)), baseline_accuracy=expected)
    return None


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: dict[str, Any]) -> str:
    try:
        return string.Formatter().vformat(template, (), _Safe(values))
    except (ValueError, IndexError, KeyError, AttributeError):
        return template  # a template the formatter cannot read is shown as written


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@dataclass
class RuleEngine:
    """Evaluates every enabled rule for the models it applies to."""

    rules: list[RuleConfig]
    models: dict[str, ModelConfig]
    store: SignalStore
    sink: DetectionSink
    clock: Clock
    trackers: dict[tuple[str, str], RuleTracker] = field(default_factory=dict)
    firing: dict[tuple[str, str], Alert] = field(default_factory=dict)

    def applies(self, rule: RuleConfig, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in rule.models)

    async def evaluate(self, model: str) -> None:
        """Judge every signal rule for ``model`` against the store's latest samples."""
        for rule in self.rules:
            if rule.signal is None or not self.applies(rule, model):
                continue
            sample = self.store.latest(model, rule.signal.value)
            episode = self.trackers.get((rule.name, model))
            since = episode.pending_since if episode else None
            holds = condition_holds(rule, sample, self.store, model, since) if sample else None
            await self.judge(rule, model, holds, sample, {})

    async def judge(
        self,
        rule: RuleConfig,
        model: str,
        holds: bool | None,
        sample: Sample | None,
        extra_labels: dict[str, str],
    ) -> None:
        """Advance one (rule, series) and report a transition to the sink."""
        key = (rule.name, model if not extra_labels else f"{model}|{sorted(extra_labels.items())}")
        tracker = self.trackers.setdefault(key, RuleTracker(rule.for_, rule.keep_firing_for))
        transition = tracker.step(holds, self.clock.now())
        if transition is Transition.FIRE and sample is not None:
            alert = self._alert(rule, model, sample, extra_labels)
            self.firing[key] = alert
            log.warning(
                "rule %s fired for %s: %s", rule.name, model, alert.annotations.get("summary")
            )
            await self.sink.alerts([alert])
        elif transition is Transition.CLEAR and key in self.firing:
            alert = self.firing.pop(key)
            alert.status, alert.ends_at = AlertStatus.RESOLVED, self.clock.now()
            await self.sink.alerts([alert])

    def _alert(self, rule: RuleConfig, model: str, sample: Sample, extra: dict[str, str]) -> Alert:
        config = self.models.get(model)
        labels = {**(config.labels if config else {}), **extra, **rule.labels}
        labels |= {"alertname": rule.name, "model": model, "source": _source(rule)}
        if rule.severity != "classify":
            labels["severity"] = str(rule.severity)
        values = {
            "model": model,
            "value": sample.value,
            "value_pct": _pct(sample.value),
            "threshold": rule.threshold,
            "threshold_pct": _pct(rule.threshold),
            "signal": rule.signal.value if rule.signal else rule.promql,
        }
        annotations = {name: render(text, values) for name, text in rule.annotations.items()}
        annotations.setdefault("summary", f"{rule.name}: {model}")
        if scope := sample.context.get("scope"):
            annotations["scope"] = str(scope)
            annotations["description"] = (
                f"{annotations.get('description', '')}\nWhere: {scope}".strip()
            )
        if detail := sample.context.get("detail"):
            annotations["description"] = f"{annotations.get('description', '')}\n{detail}".strip()
        if rule.runbook:
            annotations["runbook"] = rule.runbook
        return Alert(
            labels=labels,
            starts_at=self.clock.now(),
            annotations=annotations,
            signals=signals_for_classifier(
                rule.signal, sample.value, config, sample.context.get("baseline_accuracy")
            ),
        )


def _source(rule: RuleConfig) -> str:
    if rule.promql is not None:
        return "prometheus"
    return SOURCES.get(rule.signal, "metrics") if rule.signal else "metrics"
