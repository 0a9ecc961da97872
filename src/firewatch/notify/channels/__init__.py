"""Notification channels, one module each, all behind the `Channel` protocol.

console (the server log), webhook (generic JSON, signed per Standard Webhooks), slack (incoming
webhook, Block Kit), teams (Workflows webhook, Adaptive Card), email (SMTP), pagerduty (Events
API v2) and jira (Jira Cloud issues). Their configuration models are in `settings`.
"""

from __future__ import annotations

import httpx

from firewatch.notify.channels.base import Channel, MessageKind, Notification
from firewatch.notify.channels.console import ConsoleSender
from firewatch.notify.channels.email import EmailSender
from firewatch.notify.channels.jira import JiraSender
from firewatch.notify.channels.pagerduty import PagerDutySender
from firewatch.notify.channels.settings import (
    AnyChannel,
    ConsoleChannel,
    EmailChannel,
    JiraChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from firewatch.notify.channels.slack import SlackSender
from firewatch.notify.channels.teams import TeamsSender
from firewatch.notify.channels.webhook import WebhookSender

__all__ = ["Channel", "MessageKind", "Notification", "build_channel"]


def build_channel(config: AnyChannel, *, client: httpx.AsyncClient) -> Channel:
    """The sender for one configured channel (HTTP channels share ``client``)."""
    match config:
        case ConsoleChannel():
            return ConsoleSender(config)
        case WebhookChannel():
            return WebhookSender(config, client=client)
        case SlackChannel():
            return SlackSender(config, client=client)
        case TeamsChannel():
            return TeamsSender(config, client=client)
        case EmailChannel():
            return EmailSender(config)
        case PagerDutyChannel():
            return PagerDutySender(config, client=client)
        case JiraChannel():
            return JiraSender(config, client=client)
    raise TypeError(f"unsupported channel type {type(config).__name__}")
