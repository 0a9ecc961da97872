"""Scraping a model service's ``/metrics``: the server's metric names are mapped (KServe, Triton,
Seldon/MLServer, BentoML, TorchServe, Firewatch's demo) to requests, errors, latency, memory and
CPU, turned into windowed signals, and the rules are evaluated on each scrape."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from firewatch.clock import Clock
from firewatch.config import ModelConfig
from firewatch.detect import scope
from firewatch.detect.rule_config import Signal
from firewatch.detect.rules import RuleEngine
from firewatch.detect.servers import ScrapeError, ServerTotals, read_totals
from firewatch.detect.signals import Sample, SignalStore
from firewatch.detect.trackers import CounterWindow

log = logging.getLogger(__name__)


@dataclass
class _Windows:
    """Per-version windows, so unloading one version does not look like a counter reset."""

    requests: dict[str, CounterWindow] = field(default_factory=dict)
    latency: dict[str, CounterWindow] = field(default_factory=dict)
    cpu: CounterWindow | None = None


class MetricsScraper:
    """Scrapes one model's ``/metrics`` into the signal store and asks the rule engine to judge."""

    def __init__(
        self,
        model: ModelConfig,
        *,
        store: SignalStore,
        engine: RuleEngine,
        clock: Clock,
        client: httpx.AsyncClient,
        served: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    ) -> None:
        """``served`` tells which versions the registry sends traffic to now (the sink's
        `served_versions`): a version it no longer serves leaves the window once it gets no
        requests, so its failures do not hold an error-rate alert on its replacement."""
        if model.metrics_url is None:
            raise ValueError(f"model {model.name} has no metrics_url to scrape")
        self.model = model
        self.url = str(model.metrics_url)
        self.store = store
        self.engine = engine
        self.clock = clock
        self.client = client
        self.served = served
        self.windows = _Windows()
        self._warned_unobserved = False
        self._requests: dict[str, float] = {}  # each version's request count at the last scrape

    async def check(self) -> ServerTotals | None:
        """One scrape; None when the endpoint cannot be read (the probe reports outages)."""
        try:
            response = await self.client.get(self.url, timeout=5.0)
            response.raise_for_status()
            totals = read_totals(
                response.text, model=self.model.name, mapping=self.model.scrape.mapping
            )
        except (httpx.HTTPError, ScrapeError) as exc:
            log.debug("%s: scrape of %s failed: %s", self.model.name, self.url, exc)
            return None
        now = self.clock.now()
        served = await self.served(self.model.name) if self.served and totals.by_version else None
        self._record(totals, now, self._retired(totals, served or frozenset()))
        await self.engine.evaluate(self.model.name)
        return totals

    def _retired(self, totals: ServerTotals, served: frozenset[str]) -> frozenset[str]:
        """Versions the registry no longer serves that got no request since the last scrape
        (after a rollback, say): their past failures say nothing about what serves now. None
        is retired while the server's version labels and the registry's names share none."""
        last, self._requests = self._requests, {v: p.requests for v, p in totals.by_version.items()}
        if not served & totals.by_version.keys():
            return frozenset()
        return frozenset(
            version
            for version, part in totals.by_version.items()
            if version not in served and version in last and part.requests <= last[version]
        )

    def _record(self, totals: ServerTotals, now: datetime, retired: frozenset[str]) -> None:
        name, window, cfg = self.model.name, self.model.scrape.window, self.model.scrape
        for version in retired:
            self.windows.requests.pop(version, None)
            self.windows.latency.pop(version, None)
        versions = {
            v: p for v, p in (totals.by_version or {"": totals}).items() if v not in retired
        }
        requests = errors = latency_sum = latency_count = 0.0
        breakdown: list[tuple[str, float, float]] = []
        span = None
        for version, part in versions.items():
            counts = self.windows.requests.setdefault(version, CounterWindow(window))
            counts.add(now, part.requests, part.errors)
            rate = counts.rate()
            span = span or counts.span()
            if rate is not None:
                requests += rate.requests
                errors += rate.errors
                breakdown.append((version, rate.requests, rate.errors))
            if part.latency_sum_seconds is not None and part.latency_count is not None:
                lat = self.windows.latency.setdefault(version, CounterWindow(window))
                lat.add(now, part.latency_count, part.latency_sum_seconds)
                if (spent := lat.rate()) is not None:
                    latency_count += spent.requests
                    latency_sum += spent.errors
        if span is not None and span.total_seconds() > 0:
            self._put(Signal.REQUEST_RATE, Sample(now, requests / span.total_seconds()))
        if requests >= cfg.min_requests and totals.errors_observed:
            where = scope.describe({"version": {v: (r, e) for v, r, e in breakdown}})
            context = {"requests": requests, "errors": errors, "scope": where}
            self._put(Signal.ERROR_RATE, Sample(now, errors / requests, context))
        else:
            self.store.forget(name, Signal.ERROR_RATE.value)
        if not totals.errors_observed and not self._warned_unobserved:
            self._warned_unobserved = True
            log.warning(
                "%s: the server exposes no failure count; error-rate rules cannot judge it (%s)",
                name,
                "; ".join(totals.caveats),
            )
        if latency_count >= cfg.min_requests:
            self._put(Signal.LATENCY_MEAN_S, Sample(now, latency_sum / latency_count))
        else:
            self.store.forget(name, Signal.LATENCY_MEAN_S.value)
        self._resources(totals, now)

    def _resources(self, totals: ServerTotals, now: datetime) -> None:
        limits = self.model.limits
        if totals.memory_bytes is not None:
            self._put(Signal.MEMORY_BYTES, Sample(now, totals.memory_bytes))
            if limits.memory_bytes:
                self._put(
                    Signal.MEMORY_FRACTION, Sample(now, totals.memory_bytes / limits.memory_bytes)
                )
        if totals.cpu_seconds is not None:
            cpu = self.windows.cpu = self.windows.cpu or CounterWindow(self.model.scrape.window)
            cpu.add(now, totals.cpu_seconds, 0.0)
            used, span = cpu.rate(), cpu.span()
            if used is not None and span is not None and span.total_seconds() > 0:
                cores = used.requests / span.total_seconds()
                self._put(Signal.CPU_CORES, Sample(now, cores))
                if limits.cpu_cores:
                    self._put(Signal.CPU_FRACTION, Sample(now, cores / limits.cpu_cores))

    def _put(self, signal: Signal, sample: Sample) -> None:
        self.store.record(self.model.name, signal.value, sample)
