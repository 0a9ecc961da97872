"""Keeping channel secrets out of logs, API output and the timeline.

Channels read their secrets (webhook URLs of Slack and Teams, tokens, passwords, routing keys)
from the environment variables their ``*_env`` fields name. A `Redactor` knows those values and
replaces them in any text with ``[redacted]``; `install_log_redaction` puts one in front of every
log record, whichever logger or handler it goes to. Usage::

    redactor = Redactor.from_channels(config.channels)
    uninstall = install_log_redaction(redactor)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firewatch.notify.channels.settings import AnyChannel

REDACTED = "[redacted]"


class Redactor:
    """Replaces known secret values in text (longest first, so a URL wins over its path)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    @classmethod
    def from_channels(
        cls, channels: Iterable[AnyChannel], environ: Mapping[str, str] | None = None
    ) -> Redactor:
        """A redactor for the secrets of ``channels``, as the environment holds them now."""
        values = [v for channel in channels for v in channel.secret_values(environ)]
        return cls(values)

    def add(self, *secrets: str) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s}
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_data(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(v) for v in value]
        return value


def missing_secrets(
    channels: Iterable[AnyChannel], environ: Mapping[str, str] | None = None
) -> list[str]:
    """One line per ``*_env`` variable that is not set (for a warning at start-up)."""
    env = os.environ if environ is None else environ
    return [
        f"channel {channel.name!r} ({channel.type}): {field} names {variable}, which is not set"
        for channel in channels
        for field, variable in channel.env_fields().items()
        if not env.get(variable)
    ]


class RedactingFilter(logging.Filter):
    """Renders a record's message (and traceback) once, redacted, before any handler sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    if not redactor:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let the handler report it as usual
        return
    record.msg = redactor.redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)


def install_log_redaction(redactor: Redactor) -> Callable[[], None]:
    """Redact every log record from now on, whatever logger or handler it goes to.

    It wraps the log record factory rather than adding a filter to today's handlers, so the
    handlers configured later (uvicorn's, a test's) are covered too. Returns the undo function.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record, redactor)
        return record

    logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return uninstall
