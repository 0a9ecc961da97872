"""The ``hook`` action: configured commands (real subprocesses) and webhooks (a real local
receiver, signatures checked with the standardwebhooks package); dry runs change nothing."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from step_harness import make_context

from firewatch.config import FirewatchConfig
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import ACTION_KINDS, STEPS
from firewatch.runbooks.steps.hooks import hook
from support.servers import free_port, serve_in_thread

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes


@dataclass
class Peer:
    """Records raw requests to /deploy and answers ``status``."""

    status: int = 202
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def deploy(request: Request) -> PlainTextResponse:
            with self.lock:
                self.hits.append(Hit(dict(request.headers), await request.body()))
            text = "scaled to 4 replicas" if self.status < 300 else "quota exceeded for project ml"
            return PlainTextResponse(text, status_code=self.status)

        return Starlette(routes=[Route("/deploy", deploy, methods=["POST", "PUT"])])


@pytest.fixture(scope="module")
def peer_server() -> Iterator[tuple[Peer, str]]:
    receiver = Peer()
    with serve_in_thread(receiver.app()) as url:
        yield receiver, url


@pytest.fixture
def peer(peer_server: tuple[Peer, str]) -> tuple[Peer, str]:
    """The receiver, with nothing received yet and answering 202."""
    receiver, url = peer_server
    with receiver.lock:
        receiver.hits.clear()
        receiver.status = 202
    return receiver, url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _recorder(tmp_path: Path, exit_code: int = 0) -> list[str]:
    """A command that writes what it was given to ``hook.json`` and exits ``exit_code``."""
    script = (
        "import json, os, sys; "
        "keys = ['FIREWATCH_HOOK', 'FIREWATCH_ACTION', 'FIREWATCH_ARGS', 'FIREWATCH_INCIDENT', "
        "'FIREWATCH_MODEL', 'FIREWATCH_VERSION', 'FIREWATCH_SEVERITY', 'REPLICAS_MAX']; "
        f"json.dump({{k: os.environ.get(k) for k in keys}}, open({str(tmp_path / 'hook.json')!r}, 'w')); "
        "print('restarting iris-api'); "
        f"print('kubectl: deployment not found', file=sys.stderr); sys.exit({exit_code})"
    )
    return [sys.executable, "-c", script]


def _config(**hooks: dict[str, Any]) -> dict[str, Any]:
    return {"runbooks": {"hooks": hooks}}


def test_hook_is_a_registered_action() -> None:
    assert STEPS["hook"] is hook
    assert ACTION_KINDS["hook"] == "hook"


async def test_command_hook_gets_action_args_and_incident(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    config = _config(restart={"command": _recorder(tmp_path), "env": {"REPLICAS_MAX": "8"}})
    ctx = make_context(tmp_path, client, config=config)
    result = await hook(ctx, {"hook": "restart", "action": "restart", "args": {"replicas": 4}})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.summary.startswith("hook restart (restart) succeeded")
    assert result.output["exit_code"] == 0
    assert result.output["stdout"] == "restarting iris-api\n"
    seen = json.loads((tmp_path / "hook.json").read_text())
    assert seen == {
        "FIREWATCH_HOOK": "restart",
        "FIREWATCH_ACTION": "restart",
        "FIREWATCH_ARGS": '{"replicas":4}',
        "FIREWATCH_INCIDENT": "INC-2026-007",
        "FIREWATCH_MODEL": "iris",
        "FIREWATCH_VERSION": "v2",
        "FIREWATCH_SEVERITY": "SEV2",
        "REPLICAS_MAX": "8",
    }


async def test_a_failing_command_hook_says_why(tmp_path: Path, client: httpx.AsyncClient) -> None:
    ctx = make_context(
        tmp_path, client, config=_config(restart={"command": _recorder(tmp_path, 2)})
    )
    result = await hook(ctx, {"hook": "restart", "action": "restart"})
    assert result.outcome is Outcome.FAILED
    assert result.summary == "hook restart (restart) failed (exit 2): kubectl: deployment not found"
    assert result.output["stderr"] == "kubectl: deployment not found\n"


async def test_a_command_hook_that_hangs_is_killed_at_its_timeout(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    config = _config(retrain={"command": ["sleep", "30"], "timeout": "300ms"})
    ctx = make_context(tmp_path, client, config=config)
    result = await asyncio.wait_for(hook(ctx, {"hook": "retrain", "action": "retrain"}), 5)
    assert result.outcome is Outcome.FAILED
    assert "timed out after 0.3s and was killed" in result.summary


async def test_a_missing_program_is_reported(tmp_path: Path, client: httpx.AsyncClient) -> None:
    ctx = make_context(tmp_path, client, config=_config(scale={"command": ["no-such-kubectl"]}))
    result = await hook(ctx, {"hook": "scale", "action": "scale"})
    assert result.outcome is Outcome.FAILED
    assert "could not start 'no-such-kubectl'" in result.summary


async def test_webhook_hook_posts_a_signed_body(
    tmp_path: Path,
    client: httpx.AsyncClient,
    peer: tuple[Peer, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver, url = peer
    monkeypatch.setenv("FW_TEST_HOOK_SECRET", SECRET)
    config = _config(
        scale={
            "url": f"{url}/deploy",
            "secret_env": "FW_TEST_HOOK_SECRET",
            "headers": {"X-Team": "ml"},
        }
    )
    ctx = make_context(tmp_path, client, config=config)
    result = await hook(ctx, {"hook": "scale", "action": "scale", "args": {"replicas": 4}})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.summary == f"hook scale (scale): POST {url}/deploy → 202"
    assert result.output["response"] == "scaled to 4 replicas"
    (hit,) = receiver.hits
    body = Webhook(SECRET).verify(hit.body, hit.headers)
    assert body["action"] == "scale" and body["hook"] == "scale"
    assert body["args"] == {"replicas": 4}
    assert body["incident"] == {
        "id": "INC-2026-007",
        "severity": "SEV2",
        "model": "iris",
        "version": "v2",
    }
    assert body["sent_at"].startswith("2026-01-15T14:30")
    assert hit.headers["x-team"] == "ml"
    assert hit.headers["idempotency-key"] == hit.headers["webhook-id"]


async def test_webhook_hook_fails_on_an_error_answer_or_no_answer(
    tmp_path: Path, client: httpx.AsyncClient, peer: tuple[Peer, str]
) -> None:
    receiver, url = peer
    receiver.status = 429
    down = f"http://127.0.0.1:{free_port()}/deploy"
    config = _config(scale={"url": f"{url}/deploy", "method": "PUT"}, gone={"url": down})
    ctx = make_context(tmp_path, client, config=config)
    refused = await hook(ctx, {"hook": "scale", "action": "scale"})
    assert refused.outcome is Outcome.FAILED
    assert refused.summary == (
        f"hook scale (scale): PUT {url}/deploy answered HTTP 429: quota exceeded for project ml"
    )
    unreachable = await hook(ctx, {"hook": "gone", "action": "restart"})
    assert unreachable.outcome is Outcome.FAILED
    assert "could not be reached" in unreachable.summary


async def test_webhook_hook_names_a_missing_secret_and_sends_nothing(
    tmp_path: Path,
    client: httpx.AsyncClient,
    peer: tuple[Peer, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver, url = peer
    monkeypatch.delenv("FW_TEST_HOOK_SECRET", raising=False)
    config = _config(scale={"url": f"{url}/deploy", "secret_env": "FW_TEST_HOOK_SECRET"})
    result = await hook(make_context(tmp_path, client, config=config), {"hook": "scale"})
    assert result.outcome is Outcome.FAILED
    assert "FW_TEST_HOOK_SECRET" in result.summary and "is not set" in result.summary
    assert receiver.hits == []


async def test_dry_run_says_what_it_would_do_and_does_nothing(
    tmp_path: Path, client: httpx.AsyncClient, peer: tuple[Peer, str]
) -> None:
    receiver, url = peer
    config = _config(
        restart={"command": _recorder(tmp_path)},
        retrain={"url": f"{url}/deploy?token=abc"},
    )
    ctx = make_context(tmp_path, client, config=config, dry_run=True)
    command = await hook(ctx, {"hook": "restart", "action": "restart"})
    webhook = await hook(ctx, {"hook": "retrain", "action": "retrain", "args": {"since": "7d"}})
    assert command.outcome is Outcome.PASSED and webhook.outcome is Outcome.PASSED
    assert command.summary.startswith(f"would run hook restart (restart): {sys.executable} -c")
    assert webhook.summary == f"would run hook retrain (retrain): POST {url}/deploy"
    assert not (tmp_path / "hook.json").exists()
    assert receiver.hits == []


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "parameter 'hook' must name a hook under runbooks.hooks (restart)"),
        ({"hook": "reboot"}, "no hook named 'reboot' under runbooks.hooks (configured: restart)"),
        ({"hook": "restart", "action": "reboot"}, "parameter 'action' is 'reboot'; expected one"),
        ({"hook": "restart", "args": [1]}, "parameter 'args' must be a mapping"),
    ],
)
async def test_bad_parameters_are_named(
    tmp_path: Path, client: httpx.AsyncClient, params: dict[str, Any], named: str
) -> None:
    ctx = make_context(tmp_path, client, config=_config(restart={"command": ["true"]}))
    result = await hook(ctx, params)
    assert result.outcome is Outcome.FAILED
    assert named in result.summary


async def test_an_optional_hook_the_config_lacks_is_skipped(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client, config=_config(restart={"command": ["true"]}))
    result = await hook(ctx, {"hook": "retrain", "action": "retrain", "optional": True})
    assert result.outcome is Outcome.SKIPPED
    assert "runbooks.hooks.retrain" in result.summary


def test_a_hook_gives_a_command_or_a_url() -> None:
    bad_hooks: list[dict[str, Any]] = [
        {},
        {"command": ["true"], "url": "http://x/"},
        {"command": []},
    ]
    for bad in bad_hooks:
        with pytest.raises(ValueError, match=r"hooks\.h"):
            FirewatchConfig.model_validate(_config(h=bad))
