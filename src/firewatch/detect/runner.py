"""Runs every configured model's probes and scrapes, and the PromQL rules, on their intervals."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Histogram

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.detect.events import InferenceEvents
from firewatch.detect.probes import EndpointSource, HealthProbe
from firewatch.detect.promql import PrometheusClient
from firewatch.detect.promql_rules import PromQLRule
from firewatch.detect.rule_config import Signal, merge_rules
from firewatch.detect.rules import RuleEngine
from firewatch.detect.scrape import MetricsScraper
from firewatch.detect.signals import Sample, SignalStore
from firewatch.detect.sink import DetectionSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftFindings:
    """A model's drift and data quality as last judged (``judged_at`` None: not judged yet)."""

    judged_at: datetime | None
    data_drift: bool = False
    share: float | None = None  # share of features drifted
    features: dict[str, datetime] = field(default_factory=dict)  # drifted feature → since
    prediction_drift: bool = False
    label_drift: bool = False
    quality_findings: int = 0
    detail: str = ""  # the detector's own description of what drifted and what to check


def _on(sample: Sample | None) -> bool:
    return sample is not None and sample.value >= 1


class DetectionRunner:
    """Owns the signal store, the rule engine, and one probe / scraper per model that has them."""

    def __init__(
        self,
        config: FirewatchConfig,
        *,
        sink: DetectionSink,
        clock: Clock,
        client: httpx.AsyncClient,
        registry: CollectorRegistry | None = None,
        store: SignalStore | None = None,
        events: InferenceEvents | None = None,
        endpoints: EndpointSource | None = None,
    ) -> None:
        latency = Histogram(
            "firewatch_probe_duration_seconds",
            "Health probe latency per model.",
            ["model"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        models = config.models
        rules = merge_rules(config.rules)
        self.clock = clock
        self.events = events
        self.store = store or SignalStore()
        self.engine = RuleEngine(rules, {m.name: m for m in models}, self.store, sink, clock)
        self.probes = [
            HealthProbe(
                m,
                sink=sink,
                clock=clock,
                client=client,
                latency=latency,
                store=self.store,
                endpoints=endpoints,
            )
            for m in models
            if m.probe_url() is not None
        ]
        self.scrapers = [
            MetricsScraper(
                m,
                store=self.store,
                engine=self.engine,
                clock=clock,
                client=client,
                served=sink.served_versions,
            )
            for m in models
            if m.metrics_url is not None
        ]
        self.promql: list[PromQLRule] = []
        if config.prometheus is not None:
            token_env = config.prometheus.bearer_token_env
            prometheus = PrometheusClient(
                str(config.prometheus.url),
                client=client,
                timeout=config.prometheus.timeout.total_seconds(),
                bearer_token=os.environ.get(token_env) if token_env else None,
            )
            self.promql = [
                PromQLRule(rule, prometheus=prometheus, engine=self.engine)
                for rule in rules
                if rule.promql is not None
            ]

    async def run(self) -> None:
        """Run every detector until cancelled."""
        loops = [
            _every(
                p.model.probe.initial_delay.total_seconds(),
                p.next_delay,
                p.check,
                f"probe {p.model.name}",
            )
            for p in self.probes
        ]
        loops += [
            _every(
                s.model.probe.initial_delay.total_seconds(),
                _fixed(s.model.scrape.interval.total_seconds()),
                s.check,
                f"scrape {s.model.name}",
            )
            for s in self.scrapers
        ]
        loops += [
            _every(
                0.0, _fixed(r.rule.interval.total_seconds()), r.check, f"promql rule {r.rule.name}"
            )
            for r in self.promql
        ]
        if self.events is not None:
            every = self.events.every
            loops.append(_every(every, _fixed(every), self.judge_events, "inference events"))
        if loops:
            await asyncio.gather(*loops)

    def current_signals(self, model: str) -> dict[str, float]:
        """The latest value of each of ``model``'s signals (what a dashboard shows now)."""
        latest = ((s.value, self.store.latest(model, s.value)) for s in Signal)
        return {name: sample.value for name, sample in latest if sample is not None}

    def drift_findings(self, model: str) -> DriftFindings | None:
        """What the drift detector says about ``model`` now; None when its drift is not watched."""
        drift = self.events.drift.get(model) if self.events is not None else None
        if drift is None:
            return None
        quality = self.store.latest(model, Signal.DATA_QUALITY.value)
        if quality is None:  # recorded at every verdict: without it there is no verdict yet
            return DriftFindings(judged_at=None)
        data = self.store.latest(model, Signal.DATA_DRIFT.value)
        special = drift.special
        details = [s.context.get("detail", "") for s in (data, quality) if s and s.value]
        return DriftFindings(
            judged_at=quality.at,
            data_drift=bool(data and data.value),
            share=float(data.context["share"]) if data and "share" in data.context else None,
            features={c: at for c, at in drift.since.items() if c not in special},
            prediction_drift=_on(self.store.latest(model, Signal.PREDICTION_DRIFT.value)),
            label_drift=_on(self.store.latest(model, Signal.LABEL_DRIFT.value)),
            quality_findings=int(quality.value),
            detail="\n".join(d for d in details if d),
        )

    async def judge_events(self) -> None:
        """Publish the signals of every model whose event window is due, and judge them."""
        assert self.events is not None
        now = self.clock.now()
        for model in self.events.due(now):
            model.publish(self.store, now)
            await self.engine.evaluate(model.name)


def _fixed(seconds: float) -> Callable[[], float]:
    return lambda: seconds


async def _every(
    initial_delay: float, delay: Callable[[], float], check: Callable[[], Awaitable[Any]], what: str
) -> None:
    """Run ``check`` repeatedly, ``delay()`` apart, after ``initial_delay``."""
    await asyncio.sleep(initial_delay)
    while True:
        started = time.monotonic()
        try:
            await check()
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing detector must keep running, loudly
            log.exception("%s failed", what)
        await asyncio.sleep(max(0.0, delay() - (time.monotonic() - started)))
