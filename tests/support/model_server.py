"""A minimal model service for in-process tests: healthy unless its registry version is broken
or an outage is switched on (it reads the production alias straight from the database), with
Prometheus metrics in Firewatch's demo names that tests set directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from firewatch.registry import service as registry_service
from firewatch.store.db import Database


@dataclass
class Counts:
    requests: float = 0
    errors: float = 0
    latency_sum: float = 0.0


@dataclass
class FakeModelService:
    db: Database
    model: str = "iris"
    broken_versions: set[str] = field(default_factory=set)
    outage: bool = False
    versions: dict[str, Counts] = field(default_factory=lambda: {"v1": Counts()})
    memory_bytes: float | None = None
    cpu_seconds: float | None = None

    @property
    def requests(self) -> float:
        return self.versions["v1"].requests

    def set(
        self, version: str = "v1", *, requests: float, errors: float, latency_sum: float = 0.0
    ) -> None:
        self.versions[version] = Counts(requests, errors, latency_sum)

    def version(self) -> str | None:
        with self.db.read_session() as session:
            live = registry_service.live_deployment(session, model=self.model)
            return live.version.version if live else None

    def metrics_text(self) -> str:
        lines = ["# TYPE model_requests_total counter"]
        lines += [
            f'model_requests_total{{model="{self.model}",version="{v}"}} {c.requests}'
            for v, c in self.versions.items()
        ]
        lines += ["# TYPE model_request_errors_total counter"]
        lines += [
            f'model_request_errors_total{{model="{self.model}",version="{v}"}} {c.errors}'
            for v, c in self.versions.items()
        ]
        lines += ["# TYPE model_request_duration_seconds histogram"]
        for v, c in self.versions.items():
            lines.append(
                f'model_request_duration_seconds_bucket{{model="{self.model}",version="{v}",le="+Inf"}} {c.requests}'
            )
            lines.append(
                f'model_request_duration_seconds_sum{{model="{self.model}",version="{v}"}} {c.latency_sum}'
            )
            lines.append(
                f'model_request_duration_seconds_count{{model="{self.model}",version="{v}"}} {c.requests}'
            )
        if self.memory_bytes is not None:
            lines += [
                "# TYPE process_resident_memory_bytes gauge",
                f"process_resident_memory_bytes {self.memory_bytes}",
            ]
        if self.cpu_seconds is not None:
            lines += [
                "# TYPE process_cpu_seconds_total counter",
                f"process_cpu_seconds_total {self.cpu_seconds}",
            ]
        return "\n".join(lines) + "\n"

    def app(self) -> Starlette:
        async def health(_request: Request) -> JSONResponse:
            version = self.version()
            if self.outage or version in self.broken_versions:
                return JSONResponse({"status": "unavailable", "version": version}, status_code=503)
            return JSONResponse({"status": "ok", "version": version})

        async def metrics(_request: Request) -> PlainTextResponse:
            return PlainTextResponse(self.metrics_text())

        return Starlette(routes=[Route("/health", health), Route("/metrics", metrics)])
