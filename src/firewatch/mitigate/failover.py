"""Choosing the region to fail a model over to: the one asked for, or the next configured
endpoint after the active one that answers its health check — probed before traffic moves."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from firewatch.config import EndpointConfig, ModelConfig
from firewatch.detect.probes import probe_once
from firewatch.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class RegionProbe:
    region: str
    url: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class FailoverChoice:
    """Where traffic is (``from_region``) and where it can go (``to_region``, None: nowhere
    healthy), with every probe made to decide."""

    from_region: str
    to_region: str | None
    probes: list[RegionProbe]

    def probed(self) -> str:
        """``us-east: HTTP 503; ap-south: connection refused``."""
        return "; ".join(f"{p.region}: {p.detail}" for p in self.probes)


def current_region(model: ModelConfig, active: str | None) -> str:
    """The region serving now: the registry's, or the primary when unset or no longer configured."""
    regions = [e.region for e in model.endpoints]
    if not regions:
        raise InvalidInput(
            f"model {model.name} has no endpoints configured (models[].endpoints)",
            code="no_endpoints",
        )
    return active if active in regions else regions[0]


def failover_candidates(
    model: ModelConfig, active: str | None, wanted: str | None = None
) -> list[EndpointConfig]:
    """The endpoints to try in order: ``wanted`` alone, or every other one after the active
    region, wrapping round. InvalidInput for an unknown region, Conflict for the active one."""
    current = current_region(model, active)
    regions = [e.region for e in model.endpoints]
    if len(regions) < 2:
        raise Conflict(
            f"model {model.name} has no alternate endpoint to fail over to (only {current})",
            code="no_alternate_region",
        )
    if wanted is not None:
        endpoint = model.endpoint(wanted)
        if endpoint is None:
            raise InvalidInput(
                f"model {model.name} has no region {wanted!r} (configured: {', '.join(regions)})",
                code="unknown_region",
            )
        if wanted == current:
            raise Conflict(f"{model.name} is already served from {wanted}", code="already_active")
        return [endpoint]
    start = regions.index(current)
    count = len(regions)
    return [model.endpoints[(start + step) % count] for step in range(1, count)]


async def choose_region(
    client: httpx.AsyncClient, model: ModelConfig, active: str | None, wanted: str | None = None
) -> FailoverChoice:
    """Probe the candidates in order and pick the first healthy one (unhealthy ones are skipped)."""
    current = current_region(model, active)
    timeout = model.probe.timeout.total_seconds()
    probes: list[RegionProbe] = []
    for endpoint in failover_candidates(model, active, wanted):
        url = model.probe_url(endpoint.region)
        assert url is not None  # an endpoint always has a URL
        result = await probe_once(client, url, timeout, model.health_check)
        probes.append(RegionProbe(endpoint.region, url, result.ok, result.detail))
        if result.ok:
            return FailoverChoice(current, endpoint.region, probes)
    return FailoverChoice(current, None, probes)
