"""Detectors against a real HTTP model service: probes and the /metrics error rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import FakeClock
from firewatch.config import ModelConfig
from firewatch.detect.error_rate import ErrorRateDetector
from firewatch.detect.probes import HealthProbe
from firewatch.store.db import Database
from support.model_server import FakeModelService
from support.servers import free_port, serve_in_thread


@dataclass
class RecordingSink:
    alerts_seen: list[Alert] = field(default_factory=list)
    health_seen: list[tuple[str, bool]] = field(default_factory=list)

    async def alerts(self, alerts: list[Alert]) -> None:
        self.alerts_seen.extend(alerts)

    async def health(self, model: str, healthy: bool, at: datetime) -> None:
        self.health_seen.append((model, healthy))

    async def current_version(self, model: str) -> str | None:
        return "v7"


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
            probe = HealthProbe(config, sink=sink, clock=FakeClock(), client=client)
            assert (await probe.check()).ok
            service.outage = True
            assert (await probe.check()).detail == "HTTP 503"
            assert sink.alerts_seen == []
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


async def test_error_rate_fires_with_the_rate_and_clears(sqlite_db: Database) -> None:
    service = FakeModelService(sqlite_db)
    sink = RecordingSink()
    clock = FakeClock()
    with serve_in_thread(service.app()) as url:
        config = model(url, error_rate={"window": "60s", "threshold": 0.05, "min_requests": 20})
        async with httpx.AsyncClient() as client:
            detector = ErrorRateDetector(config, sink=sink, clock=clock, client=client)
            await detector.check()
            service.requests, service.errors = 100, 3
            clock.advance(seconds=15)
            assert (await detector.check()) is not None
            assert sink.alerts_seen == []  # 3% is under 5%
            service.requests, service.errors = 200, 43
            clock.advance(seconds=15)
            await detector.check()
            fired = sink.alerts_seen[-1]
            assert (
                fired.labels["alertname"] == "HighErrorRate" and fired.labels["severity"] == "SEV2"
            )
            assert fired.signals is not None and fired.signals.failure_rate == 43 / 200
            assert "43 of 200 requests failed" in fired.annotations["description"]
            service.requests, service.errors = 2200, 43
            clock.advance(seconds=60)
            await detector.check()
            clock.advance(seconds=15)
            await detector.check()
            assert sink.alerts_seen[-1].status is AlertStatus.RESOLVED


async def test_unreachable_metrics_is_unknown_not_an_alert() -> None:
    sink = RecordingSink()
    config = model(f"http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient() as client:
        detector = ErrorRateDetector(config, sink=sink, clock=FakeClock(), client=client)
        assert await detector.check() is None
    assert sink.alerts_seen == []
