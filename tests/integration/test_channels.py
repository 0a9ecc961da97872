"""The HTTP notification channels against a real local peer, checked against published formats.

Each channel posts to a local HTTP server that records every request; the bodies are checked
against what the services publish (`support.channels`): Slack Block Kit and its limits,
PagerDuty Events API v2 (the keys of PagerDuty's own example events in
``tests/fixtures/pagerduty``), Jira's create-issue request with an Atlassian Document Format
description (validated with Atlassian's JSON schema), Teams' Workflows webhook with an Adaptive
Card. Standard Webhooks signatures are verified with the ``standardwebhooks`` package, not with
Firewatch's code. Then the delivery rules for every channel: 429 with ``Retry-After`` → retried
no sooner, 400 → never retried, 5xx / timeout / refused connection → retried; secrets never in
an outcome, a reason or a log line; and the channel config errors. Email: test_email_channel.py.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from firewatch.config import load_config
from firewatch.errors import ConfigError
from firewatch.notify.channels import Channel, build_channel
from firewatch.notify.channels.jira import JiraSender
from firewatch.notify.channels.pagerduty import PagerDutySender, pagerduty_event
from firewatch.notify.channels.settings import (
    EmailChannel,
    JiraChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from firewatch.notify.channels.slack import SlackSender, slack_message
from firewatch.notify.channels.teams import TeamsSender
from firewatch.notify.channels.webhook import WebhookSender
from firewatch.notify.secrets import Redactor, install_log_redaction, missing_secrets
from firewatch.store.runner import GiveUp, RetryLater
from support.channels import (
    INCIDENT,
    JIRA_TOKEN,
    ROUTING_KEY,
    SLACK_SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    TEAMS_SIG,
    TEXT,
    WEBHOOK_SECRET,
    Peer,
    assert_adf,
    assert_block_kit_message,
    assert_events_v2,
    assert_no_secret,
    assert_teams_workflow_card,
    notification,
)
from support.servers import free_port, serve_in_thread


@pytest.fixture(scope="module")
def peer_server() -> Iterator[tuple[Peer, str]]:
    peer = Peer()
    with serve_in_thread(peer.app()) as url:
        yield peer, url


@pytest.fixture
def peer(peer_server: tuple[Peer, str]) -> Iterator[Peer]:
    peer_server[0].reset()
    yield peer_server[0]
    peer_server[0].reset()


@pytest.fixture
def peer_url(peer_server: tuple[Peer, str]) -> str:
    return peer_server[1]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, peer_url: str) -> dict[str, str]:
    values = {
        "FW_SLACK_URL": f"{peer_url}/services/{SLACK_SECRET}",
        "FW_TEAMS_URL": f"{peer_url}/workflows/1/triggers/manual/paths/invoke?sig={TEAMS_SIG}",
        "FW_PD_KEY": ROUTING_KEY,
        "FW_JIRA_TOKEN": JIRA_TOKEN,
        "FW_HOOK_SECRET": WEBHOOK_SECRET,
        "FW_SMTP_USER": SMTP_USER,
        "FW_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def slack(**extra: Any) -> SlackChannel:
    return SlackChannel.model_validate(
        {"type": "slack", "name": "slack", "url_env": "FW_SLACK_URL", **extra}
    )


def teams(**extra: Any) -> TeamsChannel:
    return TeamsChannel.model_validate(
        {"type": "teams", "name": "teams", "url_env": "FW_TEAMS_URL", **extra}
    )


def pagerduty(url: str, **extra: Any) -> PagerDutyChannel:
    return PagerDutyChannel.model_validate(
        {
            "type": "pagerduty",
            "name": "pd",
            "routing_key_env": "FW_PD_KEY",
            "url": f"{url}/v2/enqueue",
            **extra,
        }
    )


def jira(url: str, **extra: Any) -> JiraChannel:
    return JiraChannel.model_validate(
        {
            "type": "jira",
            "name": "jira",
            "base_url": url,
            "user_email": "oncall@example.com",
            "api_token_env": "FW_JIRA_TOKEN",
            **extra,
        }
    )


def hook(url: str, **extra: Any) -> WebhookChannel:
    return WebhookChannel.model_validate(
        {
            "type": "webhook",
            "name": "hook",
            "url": f"{url}/hook",
            "secret_env": "FW_HOOK_SECRET",
            **extra,
        }
    )


# --- Slack -----------------------------------------------------------------------------------


async def test_slack_posts_blocks_and_fallback_text_within_block_kit_limits(
    peer: Peer, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    sender = SlackSender(slack(mention="<!here>"), client=client)
    long = notification(title="iris " + "very " * 80 + "down", text=TEXT + "x" * 6000)

    outcome = await sender.send(long)

    [hit] = peer.hits
    assert hit.path == f"/services/{SLACK_SECRET}"
    assert hit.headers["content-type"].startswith("application/json")
    body = hit.json()
    assert_block_kit_message(body)
    header = body["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].endswith("…")
    assert body["text"].startswith("<!here> 🚨 SEV1 INC-2026-001")
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert any(s.endswith("…") and "INCIDENT INC-2026-001" in s for s in sections)
    assert outcome.endswith("→ 200") and "/…" in outcome
    assert_no_secret(outcome)


def test_slack_escapes_mrkdwn_and_shows_the_incident_as_fields() -> None:
    body = slack_message(notification(headline="Mitigated: rolled back to v2"))
    assert_block_kit_message(body)
    texts = json.dumps(body["blocks"], ensure_ascii=False)
    mrkdwn = json.dumps(_mrkdwn_texts(body), ensure_ascii=False)
    assert "iris &lt;model&gt; &amp; friends" in mrkdwn
    assert "<model>" not in mrkdwn  # mrkdwn escaped; the plain_text header needs none
    fields = next(b["fields"] for b in body["blocks"] if "fields" in b)
    assert {f["text"].split("\n")[0] for f in fields} >= {"*Severity*", "*Status*", "*Model*"}
    assert "Mitigated: rolled back to v2" in texts


def _mrkdwn_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            return [value["text"]]
        return [t for v in value.values() for t in _mrkdwn_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _mrkdwn_texts(v)]
    return []


@pytest.mark.parametrize(
    ("message", "icon"), [("update", "ℹ️"), ("acknowledged", "👀"), ("resolved", "✅")]
)
def test_slack_later_messages_have_their_own_header_and_no_mention(message: str, icon: str) -> None:
    body = slack_message(notification(message), mention="<!here>")
    assert_block_kit_message(body)
    assert body["blocks"][0]["text"]["text"].startswith(icon)
    assert "<!here>" not in json.dumps(body)


# --- Teams -----------------------------------------------------------------------------------


async def test_teams_posts_an_adaptive_card_to_the_workflows_webhook(
    peer: Peer, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    peer.answer(202)
    sender = TeamsSender(teams(), client=client)

    outcome = await sender.send(notification(headline="UNVERIFIED: check before acting"))

    [hit] = peer.hits
    assert hit.query["sig"] == TEAMS_SIG
    body = hit.json()
    assert_teams_workflow_card(body)
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"] == "SEV1 INC-2026-001: iris <model> & friends are down"
    assert card["body"][0]["color"] == "Attention"
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Severity"] == "SEV1 (CRITICAL)" and facts["Model"] == "iris (version 3)"
    assert outcome.endswith("→ 202")
    assert_no_secret(outcome)


# --- PagerDuty -------------------------------------------------------------------------------


async def test_pagerduty_trigger_acknowledge_resolve_share_one_dedup_key(
    peer: Peer, peer_url: str, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    sender = PagerDutySender(pagerduty(peer_url, group="ml-platform"), client=client)
    for _ in range(3):
        peer.answer(202, {"status": "success", "message": "Event processed"})

    outcomes = [await sender.send(notification(m)) for m in ("opened", "acknowledged", "resolved")]

    events = [h.json() for h in peer.hits]
    assert [h.path for h in peer.hits] == ["/v2/enqueue"] * 3
    for event in events:
        assert_events_v2(event)
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"firewatch-INC-2026-001"}
    payload = events[0]["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "iris" and payload["component"] == "iris"
    assert payload["group"] == "ml-platform"
    assert payload["timestamp"] == INCIDENT["opened_at"]
    assert payload["custom_details"]["message"] == TEXT.strip()
    for outcome in outcomes:
        assert "firewatch-INC-2026-001" in outcome and "→ 202" in outcome
        assert_no_secret(outcome)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("SEV1", "critical"), ("SEV2", "error"), ("SEV3", "warning"), ("SEV4", "info")],
)
def test_pagerduty_severity_follows_the_documented_mapping(severity: str, expected: str) -> None:
    config = pagerduty("https://events.example")
    event = pagerduty_event(notification(severity=severity), routing_key=ROUTING_KEY, config=config)
    assert event["payload"]["severity"] == expected


def test_pagerduty_summary_is_cut_to_1024_characters() -> None:
    config = pagerduty("https://events.example")
    event = pagerduty_event(notification(title="x" * 3000), routing_key=ROUTING_KEY, config=config)
    assert_events_v2(event)
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].endswith("…")


# --- Jira ------------------------------------------------------------------------------------


async def test_jira_creates_an_issue_with_an_adf_description(
    peer: Peer, peer_url: str, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    peer.answer(200, {"issues": [], "isLast": True})
    peer.answer(201, {"id": "10001", "key": "ML-7", "self": f"{peer_url}/rest/api/3/issue/10001"})
    sender = JiraSender(jira(peer_url), client=client)
    ticket = notification(severity="SEV3", target="ML", title="t" * 400, headline="Why: drift")

    outcome = await sender.send(ticket)

    search, create = peer.hits
    assert (search.method, search.path) == ("GET", "/rest/api/3/search/jql")
    assert 'labels = "firewatch-INC-2026-001"' in search.query["jql"]
    assert (create.method, create.path) == ("POST", "/rest/api/3/issue")
    basic = base64.b64encode(f"oncall@example.com:{JIRA_TOKEN}".encode()).decode()
    assert create.headers["authorization"] == f"Basic {basic}"
    fields = create.json()["fields"]
    assert fields["project"] == {"key": "ML"}
    assert fields["issuetype"] == {"name": "Task"}
    assert len(fields["summary"]) == 255 and fields["summary"].endswith("…")
    assert "\n" not in fields["summary"]
    assert fields["labels"] == ["firewatch", "firewatch-INC-2026-001", "sev3"]
    assert fields["priority"] == {"name": "Medium"}
    assert_adf(fields["description"])
    adf_text = json.dumps(fields["description"])
    assert '"bulletList"' in adf_text and "100% of requests failing" in adf_text
    assert outcome.startswith("created ML-7")
    assert_no_secret(outcome)


async def test_jira_adds_later_messages_to_the_incidents_issue_as_comments(
    peer: Peer, peer_url: str, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    peer.answer(200, {"issues": [{"id": "10001", "key": "ML-7"}], "isLast": True})
    peer.answer(201, {"id": "20001"})
    sender = JiraSender(jira(peer_url, project="OPS"), client=client)

    outcome = await sender.send(notification("resolved", target="ML", text="✅ resolved\n"))

    search, comment = peer.hits
    assert 'project = "OPS"' in search.query["jql"]
    assert (comment.method, comment.path) == ("POST", "/rest/api/3/issue/ML-7/comment")
    assert_adf(comment.json()["body"])
    assert outcome.startswith("commented on ML-7")


# --- Standard Webhooks -----------------------------------------------------------------------


async def test_webhook_signature_verifies_with_the_standardwebhooks_package(
    peer: Peer, peer_url: str, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> None:
    peer.answer(503)
    sender = WebhookSender(hook(peer_url), client=client)
    note = notification()

    with pytest.raises(RetryLater):
        await sender.send(note)
    outcome = await sender.send(note)  # the retry

    first, retry = peer.hits
    for hit in (first, retry):
        verified = Webhook(WEBHOOK_SECRET).verify(hit.body, hit.headers)
        assert verified["id"] == note.id and verified["incident"]["id"] == "INC-2026-001"
        assert hit.headers["webhook-id"] == note.id == hit.headers["idempotency-key"]
        assert hit.headers["webhook-signature"].startswith("v1,")
        now = datetime.now(UTC).timestamp()
        assert abs(int(hit.headers["webhook-timestamp"]) - now) < 60
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(first.body.replace(b"iris", b"IRIS"), first.headers)
    assert "(signed)" in outcome
    assert_no_secret(outcome)


async def test_a_missing_secret_variable_gives_up_naming_it_and_sends_nothing(
    peer: Peer, peer_url: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FW_HOOK_SECRET", raising=False)
    monkeypatch.delenv("FW_SLACK_URL", raising=False)

    with pytest.raises(GiveUp, match="FW_HOOK_SECRET"):
        await WebhookSender(hook(peer_url), client=client).send(notification())
    with pytest.raises(GiveUp, match="FW_SLACK_URL"):
        await SlackSender(slack(), client=client).send(notification())
    assert peer.hits == []


# --- the delivery rules, for every HTTP channel ----------------------------------------------

HttpSenderFactory = Callable[[str, httpx.AsyncClient], Channel]
HTTP_CHANNELS: dict[str, HttpSenderFactory] = {
    "slack": lambda url, c: SlackSender(slack(timeout="300ms"), client=c),
    "teams": lambda url, c: TeamsSender(teams(timeout="300ms"), client=c),
    "pagerduty": lambda url, c: PagerDutySender(pagerduty(url, timeout="300ms"), client=c),
    "jira": lambda url, c: JiraSender(jira(url, timeout="300ms"), client=c),
    "webhook": lambda url, c: WebhookSender(hook(url, timeout="300ms"), client=c),
}


SECRET_VARIABLE = {
    "slack": "FW_SLACK_URL",
    "teams": "FW_TEAMS_URL",
    "pagerduty": "FW_PD_KEY",
    "jira": "FW_JIRA_TOKEN",
    "webhook": "FW_HOOK_SECRET",
}


@pytest.fixture(params=sorted(HTTP_CHANNELS))
def channel_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def http_sender(
    channel_name: str, peer_url: str, client: httpx.AsyncClient, secrets_env: dict[str, str]
) -> Channel:
    return HTTP_CHANNELS[channel_name](peer_url, client)


async def test_429_is_retried_no_sooner_than_retry_after(peer: Peer, http_sender: Channel) -> None:
    peer.answer(429, b"rate limited", {"Retry-After": "7"})

    with pytest.raises(RetryLater) as caught:
        await http_sender.send(notification())

    assert caught.value.after == timedelta(seconds=7)
    assert "HTTP 429" in str(caught.value)
    assert_no_secret(str(caught.value))


async def test_400_is_never_retried(
    peer: Peer, http_sender: Channel, channel_name: str, secrets_env: dict[str, str]
) -> None:
    own_secret = secrets_env[SECRET_VARIABLE[channel_name]]
    peer.answer(400, {"status": "invalid event", "you sent": own_secret})

    with pytest.raises(GiveUp, match="HTTP 400") as caught:
        await http_sender.send(notification())

    assert len(peer.hits) == 1
    assert "[redacted]" in str(caught.value)  # the peer quoted secrets back: not on the timeline
    assert_no_secret(str(caught.value))


async def test_500_is_retried_with_the_runners_backoff(peer: Peer, http_sender: Channel) -> None:
    peer.answer(500, b"internal_error")

    with pytest.raises(RetryLater, match="HTTP 500") as caught:
        await http_sender.send(notification())

    assert caught.value.after is None


async def test_a_slow_peer_is_retried(peer: Peer, http_sender: Channel) -> None:
    peer.delay = 1.0

    with pytest.raises(RetryLater, match=r"timed out after 0\.3s") as caught:
        await http_sender.send(notification())

    assert_no_secret(str(caught.value))


async def test_a_peer_that_is_not_listening_is_retried(
    client: httpx.AsyncClient, secrets_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("FW_SLACK_URL", f"{closed}/services/{SLACK_SECRET}")
    monkeypatch.setenv("FW_TEAMS_URL", f"{closed}/invoke?sig={TEAMS_SIG}")
    for name, factory in HTTP_CHANNELS.items():
        with pytest.raises(RetryLater, match="cannot connect") as caught:
            await factory(closed, client).send(notification())
        assert closed.removeprefix("http://") in str(caught.value), name
        assert_no_secret(str(caught.value))


def test_retry_after_as_an_http_date_counts_from_the_answers_date() -> None:
    from firewatch.notify.channels.http import retry_after

    response = httpx.Response(
        429,
        headers={
            "Date": "Thu, 15 Jan 2026 14:30:00 GMT",
            "Retry-After": "Thu, 15 Jan 2026 14:32:00 GMT",
        },
    )
    assert retry_after(response) == timedelta(minutes=2)


# --- secrets and configuration ---------------------------------------------------------------


def _configured(url: str) -> list[Any]:
    return [
        slack(),
        teams(),
        pagerduty(url),
        jira(url),
        hook(url),
        EmailChannel.model_validate(
            {
                "type": "email",
                "name": "mail",
                "smtp_host": "smtp.example.com",
                "from": "fw@example.com",
                "username_env": "FW_SMTP_USER",
                "password_env": "FW_SMTP_PASSWORD",
            }
        ),
    ]


def test_the_redactor_knows_every_channels_secrets(
    secrets_env: dict[str, str], peer_url: str
) -> None:
    redactor = Redactor.from_channels(_configured(peer_url))
    basic = base64.b64encode(f"oncall@example.com:{JIRA_TOKEN}".encode()).decode()
    text = " ".join([*secrets_env.values(), basic, f"POST /services/{SLACK_SECRET}"])

    redacted = redactor.redact(text)

    assert_no_secret(redacted)
    assert basic not in redacted and SMTP_USER not in redacted
    assert redacted.count("[redacted]") >= len(secrets_env)
    data = redactor.redact_data({"details": [{"result": f"sent with {ROUTING_KEY}"}]})
    assert data == {"details": [{"result": "sent with [redacted]"}]}


def test_log_records_are_redacted_whatever_handler_takes_them(
    secrets_env: dict[str, str], peer_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    uninstall = install_log_redaction(Redactor.from_channels(_configured(peer_url)))
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("firewatch.test").info("posting to %s", secrets_env["FW_SLACK_URL"])
            try:
                raise RuntimeError(f"refused key {ROUTING_KEY}")
            except RuntimeError:
                logging.getLogger("firewatch.test").exception("failed")
    finally:
        uninstall()
    assert "[redacted]" in caplog.text
    assert_no_secret(caplog.text)


def test_missing_secret_variables_are_listed_for_start_up(
    peer_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FW_PD_KEY", raising=False)
    monkeypatch.setenv("FW_SLACK_URL", "https://hooks.slack.com/services/T/B/X")
    problems = missing_secrets([slack(), pagerduty(peer_url)])
    assert problems == [
        "channel 'pd' (pagerduty): routing_key_env names FW_PD_KEY, which is not set"
    ]


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (
            "[{type: carrier-pigeon, name: x}]",
            "channels.0: unknown channel type 'carrier-pigeon': expected one of console, webhook, "
            "slack, teams, email, pagerduty, jira",
        ),
        ("[{name: x}]", "channels.0: a channel needs a type"),
        (
            "[{type: slack, name: s, url_env: 'https://hooks.slack.com/services/T/B/X'}]",
            "is not an environment variable name",
        ),
        ("[{type: email, name: m, smtp_host: h, from: a@b.c, username_env: U}]", "go together"),
        ("[{type: email, name: m, smtp_host: h, from: a@b.c, to: [nobody]}]", "not an email"),
        (
            "[{type: jira, name: j, base_url: 'https://x.atlassian.net', user_email: a@b.c}]",
            "api_token_env",
        ),
    ],
)
def test_channel_config_errors_are_clear(tmp_path: Path, channels: str, expected: str) -> None:
    path = tmp_path / "firewatch.yaml"
    path.write_text(f"channels: {channels}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in caught.value.message


def test_every_channel_type_builds_its_sender(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = tmp_path / "firewatch.yaml"
    path.write_text(
        """
channels:
  - {type: console, name: console}
  - {type: webhook, name: hook, url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET}
  - {type: slack, name: slack, url_env: SLACK_URL}
  - {type: teams, name: teams, url_env: TEAMS_URL}
  - {type: email, name: mail, smtp_host: smtp.example.com, from: fw@example.com, to: [a@example.com]}
  - {type: pagerduty, name: pd, routing_key_env: PD_KEY}
  - {type: jira, name: jira, base_url: "https://x.atlassian.net", user_email: a@b.c, api_token_env: T}
"""
    )
    config = load_config(path)
    senders = [build_channel(c, client=client) for c in config.channels]
    assert [type(s).__name__ for s in senders] == [
        "ConsoleSender",
        "WebhookSender",
        "SlackSender",
        "TeamsSender",
        "EmailSender",
        "PagerDutySender",
        "JiraSender",
    ]
    assert [s.name for s in senders] == [c.name for c in config.channels]
