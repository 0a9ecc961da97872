"""The alert processor: drains the ingest log in batches through the pipeline, behind the
request path, so accepting an alert costs one append and processing keeps up in bulk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from firewatch.alerts.journal import Journal
from firewatch.alerts.log import LoggedBatch
from firewatch.alerts.pipeline import AlertPolicy, ProcessResult, process_alerts
from firewatch.alerts.schemas import Alert
from firewatch.clock import Clock
from firewatch.store.wake import wait_or_timeout
from firewatch.store.writer import Writer

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], list[Alert]]


@dataclass
class AlertProcessor:
    journal: Journal
    writer: Writer
    clock: Clock
    policy: AlertPolicy
    decoders: dict[str, Decoder]
    batch_alerts: int = 5000
    max_in_memory: int = 500_000
    linger: float = 0.1  # let a burst gather: the cost per incident is paid per batch
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    processed: int = 0
    set_aside: int = 0

    def __post_init__(self) -> None:
        self.state = self.policy.new_state()
        self.parsed: dict[int, list[Alert]] = {}
        self._held = 0

    def offer(self, batch_id: int, alerts: list[Alert]) -> None:
        """Alerts the request path already parsed, so they need not be decoded again (the log
        row stays the durable copy: after a restart they are decoded from it)."""
        if self._held + len(alerts) <= self.max_in_memory:
            self.parsed[batch_id] = alerts
            self._held += len(alerts)

    async def run_once(self) -> int:
        """Process the oldest pending batches; returns how many alerts (0 when caught up)."""
        held = set(self.parsed)
        batches = await asyncio.to_thread(
            self.journal.read_pending, max_alerts=self.batch_alerts, in_memory=held
        )
        if not batches:
            return 0
        decoded, broken = await asyncio.to_thread(self._decode, batches)
        for batch, reason in broken:
            await self._set_aside(batch, reason)
        if not decoded:
            return len(broken)
        alerts = [alert for _, items in decoded for alert in items]
        try:
            await self.writer.run(lambda s: self._apply(s, alerts))
        except Exception:
            self.state = self.policy.new_state()  # what it remembered was not all written
            if len(decoded) == 1:
                raise
            log.exception(
                "processing %d batches together failed; retrying one by one", len(batches)
            )
            for batch, items in decoded:
                await self._one(batch, items)
        else:
            await asyncio.to_thread(self.journal.forget, [batch.id for batch, _ in decoded])
        self.processed += len(alerts)
        return max(1, len(alerts))

    async def _one(self, batch: LoggedBatch, alerts: list[Alert]) -> None:
        try:
            await self.writer.run(lambda s: self._apply(s, alerts))
        except Exception as exc:
            self.state = self.policy.new_state()
            log.exception("alert batch %d from %s could not be processed", batch.id, batch.source)
            await self._set_aside(batch, f"{type(exc).__name__}: {exc}")
        else:
            await asyncio.to_thread(self.journal.forget, [batch.id])

    async def _set_aside(self, batch: LoggedBatch, reason: str) -> None:
        log.error("alert batch %d from %s set aside: %s", batch.id, batch.source, reason)
        self.set_aside += 1
        await asyncio.to_thread(self.journal.set_aside, batch.id, reason)

    def _apply(self, session: Session, alerts: list[Alert]) -> list[ProcessResult]:
        return process_alerts(
            session, alerts=alerts, now=self.clock.now(), policy=self.policy, state=self.state
        )

    def _decode(
        self, batches: list[LoggedBatch]
    ) -> tuple[list[tuple[LoggedBatch, list[Alert]]], list[tuple[LoggedBatch, str]]]:
        decoded: list[tuple[LoggedBatch, list[Alert]]] = []
        broken: list[tuple[LoggedBatch, str]] = []
        for batch in batches:
            if (alerts := self.parsed.pop(batch.id, None)) is not None:
                self._held -= len(alerts)
                decoded.append((batch, alerts))
                continue
            decoder = self.decoders.get(batch.source)
            if decoder is None:
                broken.append((batch, f"no decoder for source {batch.source!r}"))
                continue
            try:
                decoded.append((batch, decoder(batch.payload)))
            except Exception as exc:  # validated on arrival, so this is a bug: keep the batch
                broken.append((batch, f"cannot decode: {type(exc).__name__}: {exc}"))
        return decoded, broken

    async def run_forever(self, poll_interval: float = 0.5) -> None:
        while True:
            self.wake.clear()
            try:
                await asyncio.sleep(self.linger)
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # keep going; the batch stays in the log and is retried
                log.exception("alert processing failed; retrying")
                await asyncio.sleep(poll_interval)
            await wait_or_timeout(self.wake, poll_interval)
