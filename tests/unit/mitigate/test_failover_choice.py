"""Choosing the region to fail over to, by probing real HTTP endpoints: the next healthy one
after the active region, skipping unhealthy ones."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from firewatch.config import ModelConfig
from firewatch.errors import Conflict, InvalidInput
from firewatch.mitigate.failover import choose_region, failover_candidates
from support.servers import free_port, serve_in_thread


def health_app(status: int) -> Starlette:
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok" if status == 200 else "down"}, status_code=status)

    return Starlette(routes=[Route("/health", health)])


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, str]]:
    with serve_in_thread(health_app(200)) as up, serve_in_thread(health_app(503)) as down:
        yield {"up": up, "down": down, "dead": f"http://127.0.0.1:{free_port()}"}


def model(urls: dict[str, str], *order: tuple[str, str]) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "name": "iris",
            "endpoints": [{"region": region, "url": urls[kind]} for region, kind in order],
            "probe": {"timeout": "1s"},
        }
    )


async def test_the_next_healthy_region_is_chosen_after_skipping_unhealthy_ones(
    endpoints: dict[str, str],
) -> None:
    config = model(
        endpoints, ("eu-west", "down"), ("us-east", "down"), ("ap-south", "dead"), ("sa-east", "up")
    )
    async with httpx.AsyncClient() as client:
        choice = await choose_region(client, config, None)
    assert (choice.from_region, choice.to_region) == ("eu-west", "sa-east")
    assert [(p.region, p.ok) for p in choice.probes] == [
        ("us-east", False),
        ("ap-south", False),
        ("sa-east", True),
    ]
    assert choice.probed().startswith("us-east: HTTP 503; ap-south: connection refused")


async def test_candidates_wrap_round_from_the_active_region(endpoints: dict[str, str]) -> None:
    config = model(endpoints, ("eu-west", "up"), ("us-east", "down"), ("ap-south", "up"))
    assert [e.region for e in failover_candidates(config, "us-east")] == ["ap-south", "eu-west"]
    assert [e.region for e in failover_candidates(config, "gone")] == ["us-east", "ap-south"]
    async with httpx.AsyncClient() as client:
        back = await choose_region(client, config, "ap-south")
        nowhere = await choose_region(client, config, "ap-south", "us-east")
    assert (back.from_region, back.to_region) == ("ap-south", "eu-west")
    assert nowhere.to_region is None and nowhere.probed() == "us-east: HTTP 503"


def test_impossible_failovers_are_refused(endpoints: dict[str, str]) -> None:
    two = model(endpoints, ("eu-west", "up"), ("us-east", "up"))
    with pytest.raises(InvalidInput, match=r"no region 'mars' \(configured: eu-west, us-east\)"):
        failover_candidates(two, None, "mars")
    with pytest.raises(Conflict, match="already served from eu-west"):
        failover_candidates(two, None, "eu-west")
    with pytest.raises(Conflict, match="no alternate endpoint to fail over to"):
        failover_candidates(model(endpoints, ("eu-west", "up")), None)
    with pytest.raises(InvalidInput, match="no endpoints configured"):
        failover_candidates(ModelConfig(name="iris"), None)
