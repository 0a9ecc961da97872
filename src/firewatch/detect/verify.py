"""Verify before paging (the seed's "Alert triggered → Verify → Classify"): an alert another system
sent about a model Firewatch can reach is checked against the model itself — its health endpoint
probed again, its ``/metrics`` read again, the signals Firewatch holds for it compared with the
rules' thresholds — before anyone is paged. The outcome, confirmed or not, is what the caller
records; an alert that cannot be confirmed is kept and still notified, marked unverified.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from firewatch.config import ModelConfig
from firewatch.detect.probes import probe_once
from firewatch.detect.rule_config import Condition, RuleConfig, Signal
from firewatch.detect.scrape import MetricsScraper
from firewatch.detect.signals import SignalStore

# What an alert is about, from its name: which of the model's signals can confirm it.
_KINDS: tuple[tuple[re.Pattern[str], tuple[Signal, ...]], ...] = (
    (re.compile(r"down|unavailable|unreachable|health|dead|absent|^up$", re.I), ()),
    (re.compile(r"error|fail|5xx|exception", re.I), (Signal.ERROR_RATE,)),
    (
        re.compile(r"latency|slow|duration|timeout", re.I),
        (Signal.LATENCY_MEAN_S, Signal.LATENCY_P95_S),
    ),
    (re.compile(r"accura|quality|precision|recall", re.I), (Signal.ACCURACY,)),
    (re.compile(r"memory|oom", re.I), (Signal.MEMORY_FRACTION,)),
    (re.compile(r"cpu", re.I), (Signal.CPU_FRACTION,)),
)
_ALL = (
    Signal.ERROR_RATE,
    Signal.LATENCY_MEAN_S,
    Signal.LATENCY_P95_S,
    Signal.ACCURACY,
    Signal.MEMORY_FRACTION,
    Signal.CPU_FRACTION,
)


def signals_about(alertname: str) -> tuple[Signal, ...]:
    """The signals that can confirm an alert of this name (all of them when the name says
    nothing; none for availability, which the health probe alone confirms)."""
    for pattern, signals in _KINDS:
        if pattern.search(alertname):
            return signals
    return _ALL


@dataclass
class Verification:
    confirmed: bool
    summary: str  # one line for the timeline and the page
    checks: list[dict[str, Any]] = field(default_factory=list)


def can_verify(model: ModelConfig) -> bool:
    """Firewatch can reach the model: it has a health URL or a /metrics URL."""
    return model.probe_url() is not None or model.metrics_url is not None


class Verifier:
    def __init__(
        self,
        models: dict[str, ModelConfig],
        rules: list[RuleConfig],
        *,
        client: httpx.AsyncClient,
        store: SignalStore,
        scrapers: dict[str, MetricsScraper],
    ) -> None:
        self.models = models
        self.rules = rules
        self.client = client
        self.store = store
        self.scrapers = scrapers

    async def verify(self, model_name: str, alertname: str) -> Verification:
        model = self.models.get(model_name)
        if model is None or not can_verify(model):
            return Verification(False, f"Firewatch cannot reach model {model_name} to check")
        checks: list[dict[str, Any]] = []
        found: list[str] = []  # what confirms it
        fine: list[str] = []  # what was checked and looked normal
        url = model.probe_url()
        wanted = signals_about(alertname)
        scraper = self.scrapers.get(model_name) if wanted else None
        probe, totals = await asyncio.gather(  # at once: the page waits for the slower
            probe_once(self.client, url, model.probe.timeout.total_seconds(), model.health_check)
            if url is not None
            else _nothing(),
            scraper.check() if scraper is not None else _nothing(),  # a fresh /metrics read
        )
        if probe is not None:
            checks.append({"check": "health", "url": url, "ok": probe.ok, "detail": probe.detail})
            if probe.ok:
                fine.append(f"health check OK ({probe.latency_s * 1000:.0f} ms)")
            else:
                found.append(f"health check failing ({probe.detail})")
        if scraper is not None and totals is None:
            checks.append({"check": "metrics", "url": scraper.url, "ok": False})
            found.append(f"/metrics unreadable ({scraper.url})")
        for signal in wanted:
            self._judge(model_name, signal, checks, found, fine)
        if found:
            return Verification(True, "Confirmed: " + "; ".join(found), checks)
        if not fine:
            what = ", ".join(s.value for s in wanted) or "health"
            return Verification(False, f"Could not check: no {what} data for {model_name}", checks)
        return Verification(False, "Not confirmed: " + "; ".join(fine), checks)

    def _judge(
        self,
        model: str,
        signal: Signal,
        checks: list[dict[str, Any]],
        found: list[str],
        fine: list[str],
    ) -> None:
        sample = self.store.latest(model, signal.value)
        rule = self._threshold_rule(model, signal)
        if sample is None or rule is None or rule.threshold is None:
            return
        above = rule.condition is Condition.ABOVE
        breached = sample.value > rule.threshold if above else sample.value < rule.threshold
        text = (
            f"{signal.value} {_show(signal, sample.value)} "
            f"({'above' if above else 'below'} {_show(signal, rule.threshold)} is {rule.name})"
        )
        checks.append(
            {
                "check": signal.value,
                "value": sample.value,
                "threshold": rule.threshold,
                "rule": rule.name,
                "ok": not breached,
            }
        )
        (found if breached else fine).append(text)

    def _threshold_rule(self, model: str, signal: Signal) -> RuleConfig | None:
        for rule in self.rules:
            if (
                rule.signal is signal
                and rule.condition in (Condition.ABOVE, Condition.BELOW)
                and any(fnmatch.fnmatchcase(model, p) for p in rule.models)
            ):
                return rule
        return None


async def _nothing() -> None:
    return None


def _show(signal: Signal, value: float) -> str:
    if signal in (Signal.ERROR_RATE, Signal.ACCURACY, Signal.MEMORY_FRACTION, Signal.CPU_FRACTION):
        return f"{value * 100:.1f}%"
    return f"{value:.3g} s"
