"""A minimal model service for in-process tests: healthy unless its registry version is broken
or an outage is switched on; it reads the production alias straight from the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from firewatch.registry import service as registry_service
from firewatch.store.db import Database


@dataclass
class FakeModelService:
    db: Database
    model: str = "iris"
    broken_versions: set[str] = field(default_factory=set)
    outage: bool = False
    requests: int = 0
    errors: int = 0

    def version(self) -> str | None:
        with self.db.read_session() as session:
            try:
                row = registry_service.get_model(session, name=self.model)
            except Exception:
                return None
            live = registry_service.current_deployment(session, model_id=row.id)
            return live.version.version if live else None

    def app(self) -> Starlette:
        async def health(_request: Request) -> JSONResponse:
            version = self.version()
            if self.outage or version in self.broken_versions:
                return JSONResponse({"status": "unavailable", "version": version}, status_code=503)
            return JSONResponse({"status": "ok", "version": version})

        async def metrics(_request: Request) -> PlainTextResponse:
            text = (
                "# TYPE model_requests_total counter\n"
                f'model_requests_total{{model="{self.model}"}} {self.requests}\n'
                "# TYPE model_request_errors_total counter\n"
                f'model_request_errors_total{{model="{self.model}"}} {self.errors}\n'
            )
            return PlainTextResponse(text)

        return Starlette(routes=[Route("/health", health), Route("/metrics", metrics)])
