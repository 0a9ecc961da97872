"""Running drills: wait for a quiet fleet, register the drill, inject its fault, play the on-call
person until the scenario's end state or its time limit, restore the fleet, record the result.

Usage: ``await run_drills(target, select("all"), DrillOptions(), progress)``; it talks HTTP only
(Firewatch's API and the model service's ``/admin/faults``), so the CLI and the server's
scheduler run the same code against the same real processes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from firewatch.drills.clients import DrillError, FirewatchApi, ModelService
from firewatch.drills.measure import Observation, judge, kinds_of, parse_time, succeeded_step
from firewatch.drills.scenarios import LABEL_DELAY_S, FaultKind, Scenario
from firewatch.drills.schemas import DrillRunOut, DrillTrigger
from firewatch.errors import FirewatchError
from firewatch.incidents.lifecycle import OPEN_STATUSES

Progress = Callable[[str, str], None]
"""Told (scenario, what happened) as the drill goes."""

ANNOUNCED = {
    "detected": "incident opened",
    "verified": "alert verified",
    "notified": "notification sent",
    "action_proposed": "action proposed",
    "action_succeeded": "action succeeded",
    "action_failed": "action FAILED",
    "escalated": "escalated",
    "mitigated": "mitigated",
    "resolved": "resolved",
}
RESTORE_MARGIN = timedelta(minutes=2)  # the drill stays registered while it restores the fleet
_DEFAULT_FAULTS = {"outage": False, "error_rate": 0.0, "latency_ms": 0, "input_shift": 1.0}


@dataclass(frozen=True)
class DrillTarget:
    """Where the drill runs: Firewatch's API (and a write token), the model and its service."""

    api_url: str
    token: str
    model: str
    model_url: str


@dataclass(frozen=True)
class DrillOptions:
    trigger: DrillTrigger = DrillTrigger.CLI
    time_limit: timedelta | None = None
    """Overrides every scenario's own limit."""
    settle_limit: timedelta = timedelta(minutes=3)
    """How long to wait for a quiet fleet (no open incident, no firing alert) before a drill."""
    poll_interval: float = 0.25
    label_delay_s: float = LABEL_DELAY_S


def _now() -> datetime:
    return datetime.now(UTC)


def _unproven(model: dict[str, Any], live: dict[str, Any]) -> str | None:
    """Why the live version would not yet be the rollback target after a bad deploy (it must
    have served healthily for the registry's minimum healthy time), or None."""
    needed = float(model.get("min_healthy_time_s") or 0)
    since = parse_time(live.get("first_healthy_at"))
    if since is None and live.get("failed_at"):
        raise DrillError(
            f"{model['name']} {live['version']} failed a health check before it was ever seen "
            "healthy, so this deployment can never be a rollback target; redeploy it "
            f"(`firewatch model deploy {model['name']} {live['version']}`) and drill again"
        )
    if since is None:
        return f"{live['version']} not seen healthy yet"
    served = (_now() - since).total_seconds()
    if served >= needed + 1:  # a second of margin for clocks and the next probe
        return None
    return (
        f"{live['version']} has served healthily {served:.0f}s of the {needed:g}s a rollback "
        "target needs"
    )


async def run_drills(
    target: DrillTarget,
    scenarios: list[Scenario],
    options: DrillOptions,
    progress: Progress,
    *,
    client: httpx.AsyncClient | None = None,
) -> list[DrillRunOut]:
    """Run the scenarios one after another (a game day when there are several)."""
    game_day = uuid.uuid4().hex[:12] if len(scenarios) > 1 else None
    own = client is None
    http = client or httpx.AsyncClient(follow_redirects=False)
    try:
        api = FirewatchApi(http, target.api_url, target.token)
        service = ModelService(http, target.model_url)
        return [
            await _Drill(api, service, target, options, progress, scenario, game_day).run()
            for scenario in scenarios
        ]
    finally:
        if own:
            await http.aclose()


class _Drill:
    def __init__(
        self,
        api: FirewatchApi,
        service: ModelService,
        target: DrillTarget,
        options: DrillOptions,
        progress: Progress,
        scenario: Scenario,
        game_day: str | None,
    ) -> None:
        self.api, self.service, self.target, self.options = api, service, target, options
        self.scenario, self.game_day = scenario, game_day
        self.limit = options.time_limit or scenario.time_limit
        self.observation = Observation(
            scenario, label_delay_s=options.label_delay_s, time_limit=options.time_limit
        )
        self.ref: str | None = None
        self._progress = progress
        self._announced: set[str] = set()
        self._decided: set[tuple[str, str]] = set()

    def say(self, text: str) -> None:
        self._progress(self.scenario.name, text)

    def offset(self, at: datetime | None = None) -> str:
        fault = self.observation.fault_at
        if fault is None:
            return ""
        return f"+{((at or _now()) - fault).total_seconds():.1f}s "

    async def run(self) -> DrillRunOut:
        model = await self.api.model(self.target.model)
        good = self._good_version(model)
        fault_version = self._fault_version(model)
        not_ready = await self._settle()
        run = await self.api.start_drill(
            {
                "scenario": self.scenario.name,
                "model": self.target.model,
                "trigger": self.options.trigger.value,
                "time_limit_s": (self.limit + RESTORE_MARGIN).total_seconds(),
                "game_day": self.game_day,
            }
        )
        if not_ready is not None:
            self.observation.problems.append(not_ready)
            return await self._finish(int(run["id"]), aborted=False)
        aborted = True
        try:
            await self._inject(fault_version)
            await self._respond()
            aborted = False
        except FirewatchError as exc:
            self.observation.problems.append(f"drill stopped: {exc.message}")
            aborted = False
        finally:
            await self._restore(good)
            result = await self._finish(int(run["id"]), aborted=aborted)
        return result

    # -- before ----------------------------------------------------------------------------------

    def _good_version(self, model: dict[str, Any]) -> str:
        live = model.get("production")
        if not live:
            raise DrillError(f"{self.target.model} has no production deployment to drill")
        broken = self._metadata(model, live["version"]).get("broken")
        if broken:
            raise DrillError(
                f"{self.target.model} serves {live['version']}, which is broken "
                f"(metadata.broken={broken}); deploy a good version before a drill"
            )
        return str(live["version"])

    def _fault_version(self, model: dict[str, Any]) -> str | None:
        fault = self.scenario.fault
        if fault.kind is not FaultKind.DEPLOY:
            return None
        for version in model.get("versions", []):
            if str(version.get("metadata", {}).get("broken", "")).lower() == fault.broken:
                return str(version["version"])
        raise DrillError(
            f"{self.scenario.name}: no version of {self.target.model} has metadata "
            f"broken={fault.broken}; register one, e.g. `firewatch model register "
            f"{self.target.model} drill-{fault.broken} --meta broken={fault.broken}`"
        )

    @staticmethod
    def _metadata(model: dict[str, Any], version: str) -> dict[str, Any]:
        for row in model.get("versions", []):
            if row["version"] == version:
                return dict(row.get("metadata") or {})
        return {}

    async def _settle(self) -> str | None:
        """Wait until the fleet is quiet; None, or why it did not become quiet in time."""
        faults = await self.service.faults()
        injected = {k: v for k, v in faults.items() if _DEFAULT_FAULTS.get(k, v) != v}
        if injected:
            raise DrillError(
                f"faults are already injected on {self.target.model_url} ({injected}); clear them "
                f"(curl -X DELETE {self.target.model_url}/admin/faults) before a drill"
            )
        deadline = time.monotonic() + self.options.settle_limit.total_seconds()
        said = ""
        while True:
            problems = await self._unquiet()
            if not problems:
                return None
            if time.monotonic() > deadline:
                limit = self.options.settle_limit.total_seconds()
                return f"the fleet was not quiet within {limit:g}s: " + "; ".join(problems)
            shape = re.sub(r"\d+", "#", "; ".join(problems))  # say it again when it changes
            if shape != said:
                said = shape
                self.say("waiting for a quiet fleet: " + "; ".join(problems))
            await asyncio.sleep(1.0)

    async def _unquiet(self) -> list[str]:
        problems = []
        model = await self.api.model(self.target.model)
        live = model.get("production") or {}
        if self.scenario.fault.kind is FaultKind.DEPLOY and (wait := _unproven(model, live)):
            problems.append(wait)
        if not await self.service.healthy():
            problems.append("the model service is not healthy")
        problems += [
            f"{i['id']} is open ({i['status']})"
            for i in await self.api.open_incidents(self.target.model)
        ]
        if firing := await self.api.firing_alerts(self.target.model):
            problems.append("alerts firing: " + ", ".join(sorted({a["alertname"] for a in firing})))
        return problems

    # -- during ----------------------------------------------------------------------------------

    async def _inject(self, version: str | None) -> None:
        fault = self.scenario.fault
        if version is not None:
            reason = f"drill {self.scenario.name}: {fault.description}"
            deployed = await self.api.deploy(self.target.model, version, reason)
            self.observation.fault_at = parse_time(deployed["deployed_at"])
        else:
            self.observation.fault_at = _now()
            await self.service.inject(fault.faults)
        self.say(f"fault injected: {fault.description}" + (f" ({version})" if version else ""))

    async def _respond(self) -> None:
        """Play the on-call person until the end state or the time limit."""
        deadline = time.monotonic() + self.limit.total_seconds()
        while time.monotonic() < deadline:
            incident = await self._incident()
            if incident is not None:
                self.observation.incident = incident
                self._announce(incident)
                await self._act(incident)
                if self._done(incident):
                    return
            await asyncio.sleep(self.options.poll_interval)
        self.observation.timed_out = True
        if self.ref is not None:
            self.observation.incident = await self.api.incident(self.ref)
        self.say(f"time limit reached ({self.limit.total_seconds():g}s)")

    async def _incident(self) -> dict[str, Any] | None:
        if self.ref is None:
            fault = self.observation.fault_at or _now()
            found = await self.api.incidents_since(self.target.model, fault - timedelta(seconds=1))
            if not found:
                return None
            self.ref = str(found[0]["id"])
        return await self.api.incident(self.ref)

    def _announce(self, incident: dict[str, Any]) -> None:
        for entry in incident["timeline"]:
            kind = entry["kind"]
            if kind in ANNOUNCED and kind not in self._announced:
                self._announced.add(kind)
                at = parse_time(entry["time"])
                extra = f" {incident['id']} {incident['severity']}" if kind == "detected" else ""
                self.say(f"{self.offset(at)}{ANNOUNCED[kind]}{extra}")

    async def _act(self, incident: dict[str, Any]) -> None:
        """What the on-call person does: acknowledge the page, approve proposals, tick blocking
        checklist items, and (drift) stop the fault once retraining is triggered."""
        open_ = incident["status"] in OPEN_STATUSES
        kinds = kinds_of(incident)
        if open_ and "notified" in kinds and incident.get("acknowledged_at") is None:
            await self._do("acknowledged", self.api.acknowledge(incident["id"]))
        for entry in incident["timeline"]:
            details = entry.get("details") or {}
            runbook, step = str(details.get("runbook", "")), str(details.get("step", ""))
            if (runbook, step) in self._decided or not (runbook and step and open_):
                continue
            if entry["kind"] == "action_proposed":
                self._decided.add((runbook, step))
                call = self.api.decide(incident["id"], runbook, step, "approve")
                await self._do("approved", call, step=step)
            elif entry["kind"] == "manual_step" and details.get("blocking"):
                self._decided.add((runbook, step))
                call = self.api.decide(incident["id"], runbook, step, "done")
                await self._do("ticked", call, step=step)
        marker = self.scenario.stop_injecting_on
        stopped = self.observation.stopped_injecting_at is not None
        if marker and not stopped and succeeded_step(incident, marker) is not None:
            await self.service.clear()
            self.observation.stopped_injecting_at = _now()
            self.observation.did("stopped injecting", _now())
            self.say(f"{self.offset()}{marker} recorded: the drill stops injecting")

    async def _do(self, action: str, call: Awaitable[None], **details: Any) -> None:
        try:
            await call
        except FirewatchError as exc:
            self.observation.did(f"{action} refused", _now(), reason=exc.message, **details)
            self.say(f"{self.offset()}{action} refused: {exc.message}")
            return
        self.observation.did(action, _now(), **details)
        what = f" {details['step']}" if "step" in details else ""
        self.say(f"{self.offset()}drill {action}{what}")

    def _done(self, incident: dict[str, Any]) -> bool:
        if incident["status"] != self.scenario.end_state:
            return False
        return not self.scenario.stop_injecting_on or bool(self.observation.stopped_injecting_at)

    # -- after -----------------------------------------------------------------------------------

    async def _restore(self, good: str) -> None:
        """Clear faults, redeploy the good version if needed, and close what the drill left open."""
        try:
            await self.service.clear()
            live = (await self.api.model(self.target.model)).get("production") or {}
            if live.get("version") != good:
                reason = f"drill {self.scenario.name}: restore the fleet"
                await self.api.deploy(self.target.model, good, reason)
                self.say(f"restored: redeployed {good}")
            if self.ref is not None:
                current = await self.api.incident(self.ref)
                if current["status"] in OPEN_STATUSES:
                    text = "Drill ended before its end state; the drill resolved it and restored"
                    await self.api.resolve(self.ref, f"{text} the fleet")
            deadline = time.monotonic() + 30
            while not await self.service.healthy() and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        except FirewatchError as exc:
            self.observation.problems.append(f"restoring the fleet failed: {exc.message}")

    async def _finish(self, run_id: int, *, aborted: bool) -> DrillRunOut:
        verdict = judge(self.observation, aborted=aborted)
        body = verdict.finish_body()
        stored = await self.api.finish_drill(run_id, body)
        result = DrillRunOut.model_validate(stored)
        self.say(f"{result.outcome.upper() if result.outcome else '?'}")
        return result
