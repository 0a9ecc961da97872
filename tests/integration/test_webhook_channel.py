"""The webhook channel against a real HTTP receiver: what is sent, and which failures are retried.

The first tests call `WebhookSender.send` directly and check how each answer of the receiver is
classified (delivered, `RetryLater` with the receiver's Retry-After, or `GiveUp`). The last two
run a delivery through the whole machinery on a fake clock: incident opened → `NotifyWorker`
enqueues jobs → `JobRunner` delivers, retries and buries → the incident timeline says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from firewatch.clock import FakeClock
from firewatch.config import Intent, NotifyConfig, WebhookChannel
from firewatch.incidents import queries as incident_queries
from firewatch.incidents.schemas import IncidentOut
from firewatch.incidents.service import Actor, get_incident, open_incident
from firewatch.notify.channels import Notification
from firewatch.notify.channels.webhook import WebhookSender
from firewatch.notify.worker import DELIVER_JOB, NotifyWorker
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store.db import Database
from firewatch.store.events import read_events
from firewatch.store.jobs import JobRow
from firewatch.store.runner import GiveUp, JobKind, JobRunner, RetryLater
from firewatch.store.writer import Writer
from support.receiver import Receiver
from support.servers import free_port, serve_in_thread

NOTIFICATION = Notification(
    id="fw-1-page-hook-on-call",
    event_type="incident.opened",
    intent="page",
    target="on-call",
    text="SEV1 INC-2026-001: iris is down",
    incident={"id": "INC-2026-001", "severity": "SEV1", "title": "iris is down"},
)


def hook(url: str, **extra: str) -> WebhookChannel:
    return WebhookChannel.model_validate({"type": "webhook", "name": "hook", "url": url, **extra})


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def receiver_url(receiver: Receiver) -> Iterator[str]:
    with serve_in_thread(receiver.app()) as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


# --- the sender on its own -------------------------------------------------------------------


async def test_a_2xx_answer_delivers_the_json_document_with_an_idempotency_key(
    receiver: Receiver, receiver_url: str, client: httpx.AsyncClient
) -> None:
    sender = WebhookSender(hook(f"{receiver_url}/hook"), client=client)

    outcome = await sender.send(NOTIFICATION)

    assert "200" in outcome
    [got] = receiver.received
    assert got.body == {
        "id": "fw-1-page-hook-on-call",
        "event_type": "incident.opened",
        "intent": "page",
        "target": "on-call",
        "text": "SEV1 INC-2026-001: iris is down",
        "incident": {"id": "INC-2026-001", "severity": "SEV1", "title": "iris is down"},
    }
    assert got.headers["idempotency-key"] == NOTIFICATION.id
    assert got.headers["content-type"] == "application/json"
    assert "authorization" not in got.headers


async def test_429_is_retried_no_sooner_than_the_receivers_retry_after(
    receiver: Receiver, receiver_url: str, client: httpx.AsyncClient
) -> None:
    receiver.responses.append((429, {"Retry-After": "7"}))
    sender = WebhookSender(hook(f"{receiver_url}/hook"), client=client)

    with pytest.raises(RetryLater) as caught:
        await sender.send(NOTIFICATION)

    assert caught.value.after == timedelta(seconds=7)
    assert "429" in str(caught.value)


async def test_503_is_retried(
    receiver: Receiver, receiver_url: str, client: httpx.AsyncClient
) -> None:
    receiver.responses.append((503, {}))
    sender = WebhookSender(hook(f"{receiver_url}/hook"), client=client)

    with pytest.raises(RetryLater) as caught:
        await sender.send(NOTIFICATION)

    assert "503" in str(caught.value)
    assert caught.value.after is None  # no Retry-After: the runner's backoff decides


async def test_400_is_never_retried(
    receiver: Receiver, receiver_url: str, client: httpx.AsyncClient
) -> None:
    receiver.responses.append((400, {}))
    sender = WebhookSender(hook(f"{receiver_url}/hook"), client=client)

    with pytest.raises(GiveUp, match="400"):
        await sender.send(NOTIFICATION)

    assert len(receiver.received) == 1


async def test_a_receiver_that_is_not_listening_is_retried(client: httpx.AsyncClient) -> None:
    closed = free_port()
    sender = WebhookSender(hook(f"http://127.0.0.1:{closed}/hook"), client=client)

    with pytest.raises(RetryLater, match=f"127.0.0.1:{closed}"):
        await sender.send(NOTIFICATION)


async def test_bearer_token_comes_from_the_named_environment_variable(
    receiver: Receiver,
    receiver_url: str,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FW_TEST_HOOK_TOKEN", "s3cret-token")
    sender = WebhookSender(
        hook(f"{receiver_url}/hook", bearer_token_env="FW_TEST_HOOK_TOKEN"), client=client
    )

    await sender.send(NOTIFICATION)

    [got] = receiver.received
    assert got.headers["authorization"] == "Bearer s3cret-token"


async def test_a_missing_bearer_token_variable_gives_up_naming_it_and_sends_nothing(
    receiver: Receiver,
    receiver_url: str,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FW_TEST_HOOK_TOKEN", raising=False)
    sender = WebhookSender(
        hook(f"{receiver_url}/hook", bearer_token_env="FW_TEST_HOOK_TOKEN"), client=client
    )

    with pytest.raises(GiveUp, match="FW_TEST_HOOK_TOKEN"):
        await sender.send(NOTIFICATION)

    assert receiver.received == []


# --- through the worker and the job runner, on a fake clock ----------------------------------


@pytest.fixture
def sqlite_writer(sqlite_db: Database) -> Iterator[Writer]:
    writer = Writer(sqlite_db)
    writer.start()
    yield writer
    writer.stop()


def build(
    db: Database, writer: Writer, clock: FakeClock, url: str, client: httpx.AsyncClient
) -> tuple[NotifyWorker, JobRunner]:
    """Wired as `firewatch.app.Runtime` wires them, with only the webhook channel."""
    config = NotifyConfig(
        channels_for={Intent.PAGE: ["hook"], Intent.CHAT: ["hook"], Intent.EMAIL: ["hook"]}
    )
    sender = WebhookSender(hook(f"{url}/hook"), client=client)
    worker = NotifyWorker(config, DEFAULT_POLICY, {"hook": sender}, db, writer, clock)
    runner = JobRunner(
        db=db,
        writer=writer,
        clock=clock,
        kinds={DELIVER_JOB: JobKind(worker.deliver, on_dead=worker.on_dead)},
    )
    return worker, runner


def open_and_route(db: Database, clock: FakeClock, worker: NotifyWorker) -> str:
    """Declare a SEV1 incident and let the notify consumer enqueue its deliveries."""
    with db.write_session() as s:
        row = open_incident(
            s,
            title="iris is down",
            severity=Severity.SEV1,
            now=clock.now(),
            policy=DEFAULT_POLICY,
            actor=Actor("alice"),
            model="iris",
        )
        ref = row.display_id
    with db.write_session() as s:
        opened = read_events(s, after=0, types=frozenset({"incident.opened"}))
        assert len(opened) == 1
        worker.on_event(s, opened[0])
    return ref


def jobs(db: Database) -> list[JobRow]:
    with db.read_session() as s:
        return list(s.scalars(select(JobRow).where(JobRow.kind == DELIVER_JOB)))


def incident(db: Database, clock: FakeClock, ref: str) -> IncidentOut:
    with db.read_session() as s:
        row = get_incident(s, ref=ref)
        loaded = incident_queries.load_incident(s, incident_id=row.id)
        return incident_queries.incident_of(loaded, clock.now())


async def test_429_then_200_waits_for_retry_after_and_redelivers_with_the_same_key(
    sqlite_db: Database,
    sqlite_writer: Writer,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
    client: httpx.AsyncClient,
) -> None:
    worker, runner = build(sqlite_db, sqlite_writer, clock, receiver_url, client)
    ref = open_and_route(sqlite_db, clock, worker)
    routed = len(jobs(sqlite_db))
    assert routed == 2  # SEV1: chat #critical-incidents, email the team (pages: escalation)
    receiver.responses.extend([(429, {"Retry-After": "30"})] * routed)

    assert await runner.run_once() == routed
    assert len(receiver.received) == routed
    assert {j.status for j in jobs(sqlite_db)} == {"pending"}

    clock.advance(seconds=29)
    assert await runner.run_once() == 0  # Retry-After: 30 is honoured
    assert len(receiver.received) == routed

    clock.advance(seconds=1)
    assert await runner.run_once() == routed
    assert {(j.status, j.attempts) for j in jobs(sqlite_db)} == {("done", 2)}

    keys = Counter(r.headers["idempotency-key"] for r in receiver.received)
    assert len(keys) == routed and set(keys.values()) == {2}  # each retried once, same key
    assert {r.body["incident"]["id"] for r in receiver.received} == {ref}

    timeline = incident(sqlite_db, clock, ref).timeline
    notified = [e for e in timeline if e.kind == "notified"]
    assert len(notified) == routed
    assert any(e.event.startswith("Posted to #critical-incidents via hook") for e in notified)
    assert not [e for e in timeline if e.kind == "notification_failed"]


async def test_400_buries_the_job_after_one_attempt_and_says_so_on_the_timeline(
    sqlite_db: Database,
    sqlite_writer: Writer,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
    client: httpx.AsyncClient,
) -> None:
    worker, runner = build(sqlite_db, sqlite_writer, clock, receiver_url, client)
    ref = open_and_route(sqlite_db, clock, worker)
    routed = len(jobs(sqlite_db))
    receiver.responses.extend([(400, {})] * (routed * 5))  # always 400

    assert await runner.run_once() == routed
    clock.advance(hours=1)
    assert await runner.run_once() == 0  # nothing left to retry

    assert len(receiver.received) == routed  # exactly one attempt each
    assert {(j.status, j.attempts) for j in jobs(sqlite_db)} == {("dead", 1)}

    timeline = incident(sqlite_db, clock, ref).timeline
    failed = [e for e in timeline if e.kind == "notification_failed"]
    assert len(failed) == routed
    for entry in failed:
        assert "via hook" in entry.event and "400" in entry.event
    assert any(e.event.startswith("Could not notify #critical-incidents via hook") for e in failed)
    assert not [e for e in timeline if e.kind == "notified"]


async def test_a_channel_template_replaces_the_seed_message(
    sqlite_db: Database,
    sqlite_writer: Writer,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    template = tmp_path / "opened.j2"
    template.write_text(
        "[{{ severity.value }}] {{ incident.title }} — opened {{ incident.timestamp | utc }}"
    )
    worker, runner = build(sqlite_db, sqlite_writer, clock, receiver_url, client)
    worker.templates = {"hook": {"opened": template}}
    open_and_route(sqlite_db, clock, worker)
    await runner.run_once()
    texts = {r.body["text"] for r in receiver.received}
    assert texts == {"[SEV1] iris is down — opened 2026-01-15 14:30 UTC\n"}
