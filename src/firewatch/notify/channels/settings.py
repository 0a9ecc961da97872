"""The configuration models of every notification channel (the ``channels:`` section).

Each entry has a ``type`` (console, webhook, slack, teams, email, pagerduty, jira) and a unique
``name`` that ``notify.channels_for`` refers to. Secrets are never written in the file: a field
ending in ``_env`` names the environment variable that holds the secret, read at send time (a
variable that is not set fails that delivery, naming the variable, never a value). Slack and
Teams webhook URLs are secrets too (whoever has one can post), so they are ``url_env`` fields.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from firewatch.duration import Duration
from firewatch.severity import Severity

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words from every log line


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(
        min_length=1, description="Unique name; `notify.channels_for` lists channels by it."
    )
    templates: dict[Literal["opened", "update", "acknowledged", "resolved"], Path] = Field(
        default_factory=dict,
        description="Jinja2 files replacing the seed's message texts for this channel, per "
        "message (same variables as comms/templates/*.j2).",
    )

    @field_validator("templates")
    @classmethod
    def _templates_exist(cls, value: dict[str, Path]) -> dict[str, Path]:
        for kind, path in value.items():
            if not path.is_file():
                raise ValueError(f"templates.{kind}: {path} is not a file")
        return value

    def env_fields(self) -> dict[str, str]:
        """``{field name: environment variable}`` for every configured ``*_env`` field."""
        return {
            field: value
            for field in type(self).model_fields
            if field.endswith("_env") and isinstance(value := getattr(self, field), str)
        }

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The secret values this channel uses, as they may appear in text (for redaction)."""
        env = os.environ if environ is None else environ
        values: list[str] = []
        for variable in self.env_fields().values():
            value = env.get(variable, "")
            if len(value) >= _MIN_SECRET_LENGTH:
                values.extend(_forms_of(value))
        return values


def _forms_of(secret: str) -> list[str]:
    """A secret and the parts of it that error messages tend to quote on their own."""
    forms = [secret]
    if secret.startswith("whsec_"):
        forms.append(secret.removeprefix("whsec_"))
    parts = urlsplit(secret)
    if parts.scheme in ("http", "https") and parts.netloc:
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        forms.append(parts.netloc + rest)
        if len(parts.path) > 1:
            forms.append(rest)
        forms.extend(v for _, v in parse_qsl(parts.query) if len(v) >= _MIN_SECRET_LENGTH)
    return forms


def _env_var(value: str | None) -> str | None:
    if value is not None and not re.match(_ENV_NAME, value):
        raise ValueError(
            f"{value!r} is not an environment variable name; fields ending in _env name the "
            "variable that holds the secret, not the secret itself"
        )
    return value


def _address(value: str) -> str:
    value = value.strip()
    if "@" not in value or any(c in value for c in " \r\n\t,;<>"):
        raise ValueError(f"{value!r} is not an email address (expected name@domain)")
    return value


class ConsoleChannel(_Channel):
    """Writes notifications to the server log (stderr): for laptops and demos."""

    type: Literal["console"]


class WebhookChannel(_Channel):
    """POSTs a JSON document per notification to ``url``, with an ``Idempotency-Key`` header.

    With ``secret_env`` the request is signed per the Standard Webhooks spec
    (https://www.standardwebhooks.com): ``webhook-id`` (the notification id, the same on every
    retry), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>``."""

    type: Literal["webhook"]
    url: HttpUrl = Field(description="Where to POST.")
    timeout: Duration = Field(timedelta(seconds=5), description="Per-request timeout.")
    bearer_token_env: str | None = Field(
        None, description="Environment variable holding a bearer token to send."
    )
    secret_env: str | None = Field(
        None,
        description="Environment variable holding the Standard Webhooks signing secret, "
        "`whsec_` followed by base64 (a bare base64 value is accepted too).",
    )

    _env = field_validator("bearer_token_env", "secret_env")(_env_var)


class SlackChannel(_Channel):
    """A Slack incoming webhook: Block Kit blocks (header, fields, the message, context) plus a
    plain ``text`` fallback for notifications and clients that cannot show blocks."""

    type: Literal["slack"]
    url_env: str = Field(
        description="Environment variable holding the incoming webhook URL "
        "(https://hooks.slack.com/services/…); the URL is a secret."
    )
    mention: str | None = Field(
        None,
        description="Put before new-incident messages of SEV1/SEV2, e.g. `<!here>`, "
        "`<!channel>` or a user group `<!subteam^ID>`.",
    )
    timeout: Duration = Field(timedelta(seconds=5), description="Per-request timeout.")

    _env = field_validator("url_env")(_env_var)


class TeamsChannel(_Channel):
    """Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"),
    which takes an Adaptive Card attachment (the old connector MessageCard format is retired)."""

    type: Literal["teams"]
    url_env: str = Field(
        description="Environment variable holding the Workflows webhook URL; the URL is a "
        "secret (it carries a signature)."
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Per-request timeout.")

    _env = field_validator("url_env")(_env_var)


class EmailChannel(_Channel):
    """Email over SMTP: a multipart message (plain text and HTML) per notification."""

    type: Literal["email"]
    smtp_host: str = Field(min_length=1, description="SMTP server host name or address.")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; default 587 with starttls, 465 with tls, 25 with none.",
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade a plain connection (submission, port 587); tls: TLS from "
        "the first byte (SMTPS, port 465); none: no encryption (local relays only).",
    )
    ca_file: Path | None = Field(
        None, description="PEM file of the CA to trust for the server's certificate."
    )
    username_env: str | None = Field(
        None, description="Environment variable holding the SMTP user name (for AUTH)."
    )
    password_env: str | None = Field(
        None, description="Environment variable holding the SMTP password (for AUTH)."
    )
    from_: str = Field(
        alias="from", description="Sender address, e.g. `Firewatch <firewatch@example.com>`."
    )
    to: list[str] = Field(
        default_factory=list,
        description="Recipients; when empty, the route's target (e.g. ml-team@company.com).",
    )
    subject_prefix: str = Field("[Firewatch] ", description="Put before every subject.")
    timeout: Duration = Field(timedelta(seconds=10), description="Connect and command timeout.")

    _env = field_validator("username_env", "password_env")(_env_var)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        if "\r" in value or "\n" in value or "@" not in value:
            raise ValueError(f"{value!r} is not a sender address")
        return value.strip()

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"ca_file {value} is not a file")
        return value

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together: set both or neither")
        return self

    def smtp_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2: trigger on a new incident or update, acknowledge, resolve; one
    ``dedup_key`` per incident (``firewatch-INC-2026-001``) ties them to one PagerDuty alert."""

    type: Literal["pagerduty"]
    routing_key_env: str = Field(
        description="Environment variable holding the integration (routing) key of the "
        "service's Events API v2 integration."
    )
    url: HttpUrl = Field(
        HttpUrl(PAGERDUTY_EVENTS_URL),
        description="Events endpoint (https://events.eu.pagerduty.com/v2/enqueue in the EU).",
    )
    source: str = Field(
        "firewatch",
        description="payload.source when the incident names no model (the model otherwise).",
    )
    group: str | None = Field(None, description="payload.group, e.g. the team or the stack.")
    client_url: HttpUrl | None = Field(
        None, description="Firewatch's address, shown in PagerDuty as the sending client's link."
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Per-request timeout.")

    _env = field_validator("routing_key_env")(_env_var)


def _default_priorities() -> dict[Severity, str]:
    return {
        Severity.SEV1: "Highest",
        Severity.SEV2: "High",
        Severity.SEV3: "Medium",
        Severity.SEV4: "Low",
    }


class JiraChannel(_Channel):
    """Jira Cloud tickets (REST API v3, descriptions in Atlassian Document Format).

    A new incident creates an issue labelled ``firewatch-INC-…``; later messages about the same
    incident (updates, resolution) are added to that issue as comments, and a retried create
    finds the issue instead of opening a second one."""

    type: Literal["jira"]
    base_url: HttpUrl = Field(description="The site, e.g. https://your-company.atlassian.net.")
    user_email: str = Field(description="Atlassian account email the API token belongs to.")
    api_token_env: str = Field(description="Environment variable holding the API token.")
    project: str | None = Field(
        None,
        description="Project key; when unset, the route's target is the project (e.g. ML).",
    )
    issue_type: str = Field("Task", description="Issue type name, e.g. Task, Bug or Incident.")
    labels: list[str] = Field(
        default_factory=lambda: ["firewatch"],
        description="Labels on every issue (Firewatch adds firewatch-<incident id> and the "
        "severity).",
    )
    priorities: dict[Severity, str] = Field(
        default_factory=_default_priorities,
        description="Priority name per severity; empty to leave priority to the project default.",
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Per-request timeout.")

    _env = field_validator("api_token_env")(_env_var)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label or any(c.isspace() for c in label):
                raise ValueError(f"Jira labels cannot be empty or contain spaces: {label!r}")
        return value

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        values = super().secret_values(environ)
        env = os.environ if environ is None else environ
        token = env.get(self.api_token_env, "")
        if token:  # the Authorization header carries base64("email:token")
            values.append(base64.b64encode(f"{self.user_email}:{token}".encode()).decode())
        return values


AnyChannel = (
    ConsoleChannel
    | WebhookChannel
    | SlackChannel
    | TeamsChannel
    | EmailChannel
    | PagerDutyChannel
    | JiraChannel
)

CHANNEL_TYPES: tuple[str, ...] = (
    "console",
    "webhook",
    "slack",
    "teams",
    "email",
    "pagerduty",
    "jira",
)


def _known_type(value: Any) -> Any:
    """A readable error for a missing or unknown ``type`` (before the tagged union sees it)."""
    if isinstance(value, dict):
        kind = value.get("type")
        allowed = ", ".join(CHANNEL_TYPES)
        if kind is None:
            raise ValueError(f"a channel needs a type: one of {allowed}")
        if kind not in CHANNEL_TYPES:
            raise ValueError(f"unknown channel type {kind!r}: expected one of {allowed}")
    return value


ChannelConfig = Annotated[AnyChannel, Field(discriminator="type"), BeforeValidator(_known_type)]
"""One entry of the ``channels:`` section, chosen by its ``type``."""
