"""Notification channels, one module each, all behind the `Channel` protocol."""

from __future__ import annotations

import httpx

from firewatch.config import ChannelConfig, ConsoleChannel, WebhookChannel
from firewatch.notify.channels.base import Channel, Notification
from firewatch.notify.channels.console import ConsoleSender
from firewatch.notify.channels.webhook import WebhookSender

__all__ = ["Channel", "Notification", "build_channel"]


def build_channel(config: ChannelConfig, *, client: httpx.AsyncClient) -> Channel:
    """The sender for one configured channel."""
    if isinstance(config, ConsoleChannel):
        return ConsoleSender(config)
    if isinstance(config, WebhookChannel):
        return WebhookSender(config, client=client)
    raise TypeError(f"unsupported channel type {type(config).__name__}")
