"""The console channel: notifications written to the server log, for laptops and demos."""

from __future__ import annotations

import logging

from firewatch.notify.channels.base import Notification
from firewatch.notify.channels.settings import ConsoleChannel

log = logging.getLogger("firewatch.notify.console")


class ConsoleSender:
    def __init__(self, config: ConsoleChannel) -> None:
        self.name = config.name

    async def send(self, notification: Notification) -> str:
        header = f"[{notification.intent} → {notification.target}] ({notification.id})"
        log.warning("%s\n%s", header, notification.text)
        return f"written to the {self.name} log"
