"""The email channel: one multipart message (plain text and HTML) per notification, over SMTP.

Security is STARTTLS (submission, port 587), TLS from the start (SMTPS, 465) or none; AUTH
with a user name and password from the environment. The ``Message-ID`` derives from the
notification id and ``X-Firewatch-Notification-Id`` carries it, so a retried message can be
recognised. A server that cannot be reached, a timeout or a 4xx reply is retried; a 5xx reply
(a refused recipient, failed authentication) and a TLS certificate that is not trusted are not.
"""

from __future__ import annotations

import asyncio
import html
import re
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from firewatch.clock import Clock, SystemClock
from firewatch.notify.channels.base import (
    Notification,
    model_label,
    one_line,
    require_env,
    severity_label,
    truncate,
)
from firewatch.notify.channels.settings import EmailChannel
from firewatch.store.runner import GiveUp, RetryLater

SUBJECT_LIMIT = 200
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")
_COLOURS = {"SEV1": "#b91c1c", "SEV2": "#c2410c", "SEV3": "#a16207", "SEV4": "#475569"}


def message_id(notification_id: str, sender: str) -> str:
    """``<fw-…@sender-domain>``: the same on every retry of one notification."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "firewatch.invalid"
    return f"<{_ID_UNSAFE.sub('_', notification_id)}@{domain}>"


def html_body(notification: Notification) -> str:
    """The HTML part: the summary, the facts and the message, every value escaped."""
    e = html.escape
    incident = notification.incident
    facts = [
        ("Severity", severity_label(notification.severity)),
        ("Status", str(incident.get("status") or "").upper()),
        ("Incident", notification.incident_ref),
        ("Model", model_label(incident) or ""),
        ("Opened", str(incident.get("opened_at") or "")),
        ("Runbook", str(incident.get("runbook") or "")),
    ]
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(k)}</th><td>{e(v)}</td></tr>'
        for k, v in facts
        if v
    )
    colour = (
        "#15803d"
        if notification.message == "resolved"
        else _COLOURS.get(notification.severity, "#334155")
    )
    headline = (
        f"<p><strong>{e(notification.headline)}</strong></p>" if notification.headline else ""
    )
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f'<h2 style="color:{colour}">{e(notification.summary)}</h2>{headline}'
        f"<table>{rows}</table>"
        f'<pre style="font-family:inherit;white-space:pre-wrap">{e(notification.text.strip())}</pre>'
        f'<p style="color:#64748b;font-size:small">Firewatch · notification {e(notification.id)}</p>'
        "</body></html>"
    )


def build_message(
    notification: Notification, config: EmailChannel, recipients: list[str], clock: Clock
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.from_
    message["To"] = ", ".join(recipients)
    message["Subject"] = truncate(
        one_line(config.subject_prefix + notification.summary), SUBJECT_LIMIT
    )
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id(notification.id, config.from_)
    message["X-Firewatch-Notification-Id"] = notification.id
    message["X-Firewatch-Incident"] = notification.incident_ref
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message.set_content(notification.text)
    message.add_alternative(html_body(notification), subtype="html")
    return message


def _recipients(notification: Notification, config: EmailChannel) -> list[str]:
    if config.to:
        return list(config.to)
    target = notification.target.strip()
    if "@" in target and not any(c in target for c in " \r\n\t,;<>"):
        return [target]
    raise GiveUp(
        f"no recipients: channel {config.name!r} has no `to` and the route's target "
        f"{target!r} is not an email address"
    )


class EmailSender:
    """Sends through one SMTP server; ``wall_clock`` dates the messages (real time)."""

    def __init__(self, config: EmailChannel, *, wall_clock: Clock | None = None) -> None:
        self.name = config.name
        self.config = config
        self.wall_clock = wall_clock or SystemClock()
        self.server = f"{config.smtp_host}:{config.smtp_port()}"

    def _credentials(self) -> tuple[str | None, str | None]:
        c = self.config
        if not (c.username_env and c.password_env):
            return None, None
        return require_env(c.username_env, "SMTP user name"), require_env(
            c.password_env, "SMTP password"
        )

    async def send(self, notification: Notification) -> str:
        recipients = _recipients(notification, self.config)
        username, password = self._credentials()
        message = build_message(notification, self.config, recipients, self.wall_clock)
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.smtp_host,
            port=c.smtp_port(),
            use_tls=c.security == "tls",
            start_tls=c.security == "starttls",
            timeout=c.timeout.total_seconds(),
            cert_bundle=str(c.ca_file) if c.ca_file else None,
        )
        try:
            async with client:
                if username and password:
                    await client.login(username, password)
                refused, _ = await client.send_message(message)
        except Exception as exc:
            raise self._failure(exc, secrets=[s for s in (username, password) if s]) from None
        finally:
            client.close()
            await asyncio.sleep(0)  # let a failed connection finish closing its transport
        sent = len(recipients) - len(refused)
        outcome = f"sent to {', '.join(recipients)} via SMTP {self.server} ({c.security})"
        if refused:
            outcome += f"; {sent} of {len(recipients)} accepted, refused: " + ", ".join(
                f"{addr} ({reply.code})" for addr, reply in refused.items()
            )
        return outcome

    def _failure(self, exc: Exception, *, secrets: list[str]) -> Exception:
        """The `RetryLater` or `GiveUp` for an SMTP failure, saying what happened."""
        where = f"SMTP {self.server}"

        def clean(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "[redacted]")
            return truncate(one_line(text), 200)

        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(
                f"{r.recipient}: {r.code} {clean(r.message)}" for r in exc.recipients
            )
            reason = f"{where} refused every recipient ({detail})"
            return RetryLater(reason) if any(400 <= c < 500 for c in codes) else GiveUp(reason)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            reason = f"{where}: authentication failed ({exc.code} {clean(exc.message)})"
            return RetryLater(reason) if 400 <= exc.code < 500 else GiveUp(reason)
        if isinstance(exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPResponseException):
            reason = f"{where} answered {exc.code} {clean(exc.message)}"
            return GiveUp(reason) if 500 <= exc.code < 600 else RetryLater(reason)
        if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
            return RetryLater(f"{where} timed out after {self.config.timeout.total_seconds():g}s")
        if isinstance(exc, ssl.SSLCertVerificationError) or (
            isinstance(exc, aiosmtplib.SMTPException) and "CERTIFICATE_VERIFY_FAILED" in str(exc)
        ):
            return GiveUp(
                f"{where}: the server's TLS certificate is not trusted ({clean(str(exc))}); "
                "set ca_file to its CA"
            )
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            return GiveUp(f"{where}: {clean(str(exc))} (check `security`)")
        if isinstance(exc, aiosmtplib.SMTPException | OSError):
            detail = clean(str(exc)) or type(exc).__name__
            return RetryLater(f"{where} unreachable: {detail}")
        return exc
