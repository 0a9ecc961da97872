"""Runs every configured model's probes and scrapes, and the PromQL rules, on their intervals."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Histogram

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.detect.events import InferenceEvents
from firewatch.detect.probes import HealthProbe
from firewatch.detect.promql import PrometheusClient
from firewatch.detect.promql_rules import PromQLRule
from firewatch.detect.rule_config import merge_rules
from firewatch.detect.rules import RuleEngine
from firewatch.detect.scrape import MetricsScraper
from firewatch.detect.signals import SignalStore
from firewatch.detect.sink import DetectionSink

log = logging.getLogger(__name__)


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
            HealthProbe(m, sink=sink, clock=clock, client=client, latency=latency, store=self.store)
            for m in models
            if m.probe_url() is not None
        ]
        self.scrapers = [
            MetricsScraper(m, store=self.store, engine=self.engine, clock=clock, client=client)
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
