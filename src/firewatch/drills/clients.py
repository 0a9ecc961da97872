"""The two HTTP peers a drill talks to: Firewatch's API (as the on-call person would) and the
model service's fault-injection admin API. Errors become one clear `FirewatchError` line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from firewatch.errors import FirewatchError
from firewatch.incidents.lifecycle import OPEN_STATUSES

TIMEOUT_S = 10.0
_OPEN = ",".join(sorted(OPEN_STATUSES))


class DrillError(FirewatchError):
    """The drill cannot go on (Firewatch unreachable, refused, the fleet not drillable)."""


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return str(error["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


class FirewatchApi:
    """Firewatch's JSON API with a bearer token."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            response = await self._client.request(
                method, url, headers=self._headers, timeout=TIMEOUT_S, **kwargs
            )
        except httpx.HTTPError as exc:
            raise DrillError(
                f"cannot reach Firewatch at {self.base_url} ({type(exc).__name__}: {exc}); is it "
                "running? `make run` starts it with the demo fleet"
            ) from None
        if response.status_code == 401:
            raise DrillError(
                f"Firewatch at {self.base_url} refused the token ({_message(response)}): give "
                "--token or FIREWATCH_API_TOKEN (`firewatch token create --scope write`)"
            )
        if response.status_code >= 400:
            raise FirewatchError(
                f"{method} {path}: {response.status_code} {_message(response)}",
                code="drill_api_error",
                details={"status": response.status_code},
            )
        return response.json() if response.content else None

    async def model(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", f"/api/v1/models/{name}")
        return result

    async def deploy(self, model: str, version: str, reason: str) -> dict[str, Any]:
        body = {"version": version, "reason": reason}
        result: dict[str, Any] = await self.call(
            "POST", f"/api/v1/models/{model}/deploy", json=body
        )
        return result

    async def incidents_since(self, model: str, since: datetime) -> list[dict[str, Any]]:
        """Incidents of ``model`` opened at or after ``since``, oldest first."""
        params = {"model": model, "since": since.isoformat(), "limit": 50}
        page = await self.call("GET", "/api/v1/incidents", params=params)
        return list(reversed(page["items"]))

    async def open_incidents(self, model: str) -> list[dict[str, Any]]:
        page = await self.call("GET", "/api/v1/incidents", params={"model": model, "status": _OPEN})
        return list(page["items"])

    async def incident(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", f"/api/v1/incidents/{ref}")
        return result

    async def acknowledge(self, ref: str) -> None:
        await self.call("POST", f"/api/v1/incidents/{ref}/acknowledge")

    async def decide(self, ref: str, runbook: str, step: str, decision: str) -> None:
        path = f"/api/v1/incidents/{ref}/runbooks/{runbook}/steps/{step}"
        await self.call("POST", path, json={"decision": decision})

    async def resolve(self, ref: str, resolution: str) -> None:
        await self.call("POST", f"/api/v1/incidents/{ref}/resolve", json={"resolution": resolution})

    async def firing_alerts(self, model: str) -> list[dict[str, Any]]:
        params = {"model": model, "status": "firing", "suppressed": "false"}
        result: list[dict[str, Any]] = await self.call("GET", "/api/v1/alerts", params=params)
        return result

    async def start_drill(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", "/api/v1/drills", json=body)
        return result

    async def finish_drill(self, run_id: int, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", f"/api/v1/drills/{run_id}/finish", json=body
        )
        return result


class ModelService:
    """The model service's health endpoint and its ``/admin/faults`` API (the demo model's)."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(
                method, self.base_url + path, timeout=TIMEOUT_S, **kwargs
            )
        except httpx.HTTPError as exc:
            raise DrillError(
                f"cannot reach the model service at {self.base_url} ({type(exc).__name__}); "
                "give --model-url (the demo model's base URL)"
            ) from None

    async def healthy(self) -> bool:
        try:
            return (await self._call("GET", "/health")).status_code == 200
        except DrillError:
            return False

    async def faults(self) -> dict[str, Any]:
        response = await self._call("GET", "/admin/faults")
        if response.status_code != 200:
            raise DrillError(
                f"{self.base_url} has no fault-injection API (GET /admin/faults answered "
                f"{response.status_code}); drills need the demo model (`firewatch demo-model`)"
            )
        result: dict[str, Any] = response.json()
        return result

    async def inject(self, faults: dict[str, Any]) -> None:
        response = await self._call("POST", "/admin/faults", json=faults)
        if response.status_code != 200:
            raise DrillError(f"injecting {faults} failed: {response.status_code} {response.text}")

    async def clear(self) -> None:
        response = await self._call("DELETE", "/admin/faults")
        if response.status_code != 200:
            raise DrillError(f"clearing the faults failed: {response.status_code}")
