"""Detectors against a real HTTP model service: probes and the /metrics error rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import FakeClock
from firewatch.config import ModelConfig
from firewatch.detect.probes import HealthProbe
from firewatch.detect.rule_config import RuleConfig, merge_rules
from firewatch.detect.rules import RuleEngine
from firewatch.detect.scrape import MetricsScraper
from firewatch.detect.signals import SignalStore
from firewatch.store.db import Database
from support.model_server import FakeModelService
from support.servers import free_port, serve_in_thread


@dataclass
class RecordingSink:
    alerts_seen: list[Alert] = field(default_factory=list)
    health_seen: list[tuple[str, bool]] = field(default_factory=list)
    health_since: list[datetime] = field(default_factory=list)
    served: frozenset[str] = frozenset()  # what the registry serves, per the sink

    async def alerts(self, alerts: list[Alert]) -> None:
        self.alerts_seen.extend(alerts)

    async def health(
        self, model: str, healthy: bool, at: datetime, version: str | None = None
    ) -> None:
        self.health_seen.append((model, healthy))
        self.health_since.append(at)

    async def current_version(self, model: str) -> str | None:
        return "v7"

    async def served_versions(self, model: str) -> frozenset[str]:
        return self.served


def model(url: str, **extra: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {"name": "iris", "health_url": f"{url}/health", "metrics_url": f"{url}/metrics", **extra}
    )


async def test_probe_fires_after_threshold_with_the_shared_labels_and_clears(
    sqlite_db: Database,
) -> None:
    service = FakeModelService(sqlite_db)
    sink = RecordingSink()
    with serve_in_thread(service.app()) as url:
        config = model(
            url, probe={"failure_threshold": 2, "recovery_threshold": 2}, labels={"team": "ml"}
        )
        async with httpx.AsyncClient() as client:
            clock = FakeClock()
            probe = HealthProbe(config, sink=sink, clock=clock, client=client)
            assert (await probe.check()).ok
            service.outage = True
            clock.advance(seconds=10)
            first_failure = clock.now()
            assert (await probe.check()).detail == "HTTP 503"
            assert sink.alerts_seen == []
            clock.advance(seconds=10)
            await probe.check()
            await probe.check()  # still down: no second alert
            assert len(sink.alerts_seen) == 1
            fired = sink.alerts_seen[0]
            assert fired.labels == {
                "alertname": "ModelUnavailable",
                "model": "iris",
                "version": "v7",
                "severity": "SEV1",
                "source": "probe",
                "team": "ml",
            }
            assert fired.signals is not None and fired.signals.available is False
            assert fired.annotations["runbook"] == "model-unavailable"
            assert ("iris", False) in sink.health_seen
            # the failure is dated from the streak's first failed probe, not the threshold
            assert sink.health_since[sink.health_seen.index(("iris", False))] == first_failure
            service.outage = False
            await probe.check()
            await probe.check()
            assert [a.status for a in sink.alerts_seen] == [
                AlertStatus.FIRING,
                AlertStatus.RESOLVED,
            ]
            assert sink.alerts_seen[1].labels == fired.labels  # the same identity clears


async def test_probe_of_a_dead_port_says_connection_refused() -> None:
    sink = RecordingSink()
    config = model(f"http://127.0.0.1:{free_port()}", probe={"failure_threshold": 1})
    async with httpx.AsyncClient() as client:
        result = await HealthProbe(config, sink=sink, clock=FakeClock(), client=client).check()
    assert not result.ok and "connection refused" in result.detail
    assert "connection refused" in sink.alerts_seen[0].annotations["description"]


def scraper(
    config: ModelConfig,
    sink: RecordingSink,
    clock: FakeClock,
    client: httpx.AsyncClient,
    rules: list[dict[str, object]] | None = None,
) -> MetricsScraper:
    store = SignalStore()
    configured = [RuleConfig.model_validate(r) for r in rules or []]
    engine = RuleEngine(merge_rules(configured), {config.name: config}, store, sink, clock)
    return MetricsScraper(
        config, store=store, engine=engine, clock=clock, client=client, served=sink.served_versions
    )


async def test_error_rate_fires_with_the_rate_and_where_the_failures_are(
    sqlite_db: Database,
) -> None:
    service = FakeModelService(sqlite_db)
    sink = RecordingSink()
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, scrape={"window": "60s", "min_requests": 20})
        async with httpx.AsyncClient() as client:
            detector = scraper(config, sink, clock, client)
            service.set("v2", requests=0, errors=0)  # a canary, serving from now on
            await detector.check()
            service.set("v1", requests=100, errors=3)
            clock.advance(seconds=15)
            assert (await detector.check()) is not None
            assert sink.alerts_seen == []  # 3% is under 5%
            service.set("v1", requests=150, errors=4)
            service.set("v2", requests=50, errors=39)
            clock.advance(seconds=15)
            await detector.check()
            fired = sink.alerts_seen[-1]
            assert (fired.labels["alertname"], fired.labels["severity"]) == (
                "HighErrorRate",
                "SEV2",
            )
            # The 60 s window holds all three scrapes: 43 failures in 200 requests.
            assert fired.signals is not None and fired.signals.failure_rate == 43 / 200
            assert fired.annotations["summary"] == "Model iris error rate 21.5%"
            assert fired.annotations["scope"] == (
                "by version: v2 78.0% failed of 50, v1 2.7% failed of 150 — concentrated in version v2"
            )
            service.set("v1", requests=2150, errors=4)
            service.set("v2", requests=50, errors=39)
            clock.advance(seconds=60)
            await detector.check()
            clock.advance(seconds=15)
            await detector.check()
            assert sink.alerts_seen[-1].status is AlertStatus.RESOLVED


async def test_a_version_rolled_away_from_leaves_the_error_window_once_it_gets_no_traffic(
    sqlite_db: Database,
) -> None:
    """After a rollback from v3 to v2, v3's failures still in the 60 s window would hold
    HighErrorRate on v2 for up to a minute; once the registry serves v2 and v3's counters stand
    still, only v2's traffic is judged. A version still taking requests keeps counting."""
    service = FakeModelService(sqlite_db)
    sink = RecordingSink(served=frozenset({"v3"}))
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, scrape={"window": "60s", "min_requests": 20})
        async with httpx.AsyncClient() as client:
            detector = scraper(config, sink, clock, client)
            service.versions = {}
            service.set("v3", requests=0, errors=0)
            await detector.check()
            service.set("v3", requests=100, errors=60)
            clock.advance(seconds=5)
            await detector.check()
            assert sink.alerts_seen[-1].labels["alertname"] == "HighErrorRate"

            sink.served = frozenset({"v2"})  # rolled back; the server still sends v3 requests
            service.set("v3", requests=150, errors=90)
            service.set("v2", requests=0, errors=0)
            clock.advance(seconds=5)
            await detector.check()
            assert len(sink.alerts_seen) == 1  # v3 still takes traffic: still firing

            service.set("v2", requests=100, errors=0)  # v3 stands still from here
            clock.advance(seconds=5)
            await detector.check()
            assert sink.alerts_seen[-1].status is AlertStatus.RESOLVED
            rate = detector.store.latest("iris", "error_rate")
            assert rate is not None and rate.value == 0.0


async def test_slow_responses_need_to_last_for_two_minutes(sqlite_db: Database) -> None:
    service = FakeModelService(sqlite_db)
    sink = RecordingSink()
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, scrape={"window": "30s", "min_requests": 10})
        async with httpx.AsyncClient() as client:
            detector = scraper(config, sink, clock, client)
            total = 0.0
            for step in range(12):  # every 15 s, 100 requests taking 2.5 s each
                service.set("v1", requests=100 * step, errors=0, latency_sum=total)
                total += 250
                await detector.check()
                clock.advance(seconds=15)
                if step < 9:
                    assert sink.alerts_seen == [], step
            fired = sink.alerts_seen[-1]
            assert (
                fired.labels["alertname"] == "SlowResponses" and fired.labels["severity"] == "SEV3"
            )
            assert fired.annotations["summary"] == "Model iris responds slowly: 2.50 s on average"


async def test_memory_near_its_limit_fires_and_cpu_is_measured(sqlite_db: Database) -> None:
    service = FakeModelService(sqlite_db, memory_bytes=950e6, cpu_seconds=10)
    sink = RecordingSink()
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, limits={"memory_bytes": 1_000_000_000, "cpu_cores": 2})
        async with httpx.AsyncClient() as client:
            detector = scraper(config, sink, clock, client)
            await detector.check()
            clock.advance(seconds=10)
            service.cpu_seconds = 25  # 15 CPU-seconds in 10 s: 1.5 cores of 2
            await detector.check()
            cpu = detector.store.latest("iris", "cpu_fraction")
            assert sink.alerts_seen == []  # the built-in HighMemory waits 5 minutes
            clock.advance(minutes=5)
            await detector.check()
    assert [a.labels["alertname"] for a in sink.alerts_seen] == ["HighMemory"]
    assert sink.alerts_seen[0].annotations["summary"] == "Model iris uses 95.0% of its memory limit"
    assert cpu is not None and cpu.value == 0.75


async def test_error_rate_anomaly_against_its_own_baseline(sqlite_db: Database) -> None:
    service = FakeModelService(sqlite_db)
    sink = RecordingSink()
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, scrape={"window": "60s", "min_requests": 20})
        async with httpx.AsyncClient() as client:
            detector = scraper(config, sink, clock, client)
            requests = errors = 0
            for minute in range(40):  # a quiet baseline: ~0.5% errors
                requests += 200
                errors += 1 if minute % 2 else 0
                service.set("v1", requests=requests, errors=errors)
                await detector.check()
                clock.advance(minutes=1)
            assert sink.alerts_seen == []
            for _ in range(4):  # 3%: under the fixed 5% threshold, far above its own baseline
                requests += 200
                errors += 6
                service.set("v1", requests=requests, errors=errors)
                await detector.check()
                clock.advance(minutes=1)
    assert [a.labels["alertname"] for a in sink.alerts_seen] == ["ErrorRateAnomaly"]
    assert sink.alerts_seen[0].labels["severity"] == "SEV3"


async def test_unreachable_metrics_is_unknown_not_an_alert() -> None:
    sink = RecordingSink()
    config = model(f"http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient() as client:
        assert await scraper(config, sink, FakeClock(), client).check() is None
    assert sink.alerts_seen == []
