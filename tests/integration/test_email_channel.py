"""The email channel against a real SMTP server: aiosmtpd demanding STARTTLS, then AUTH.

The server's certificate is self-signed, made here with ``cryptography``; the channel trusts it
through ``ca_file``. It checks the multipart message (plain text and escaped HTML) and its
headers, and which SMTP failures are retried: an unreachable server, a timeout or a 4xx reply
are; a 5xx reply, failed authentication and an untrusted certificate are not.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firewatch.notify.channels.email import EmailSender
from firewatch.notify.channels.settings import EmailChannel
from firewatch.store.runner import GiveUp, RetryLater
from support.channels import SMTP_PASSWORD, SMTP_USER, TEXT, assert_no_secret, notification
from support.servers import free_port


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("FW_SMTP_PASSWORD", SMTP_PASSWORD)


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps each message with whether it came over TLS and who logged in."""

    received: list[tuple[Envelope, bool, bool]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append((envelope, session.ssl is not None, bool(session.authenticated)))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(login)
        return AuthResult(success=(login, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int
    ca_file: Path


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """aiosmtpd on a free port, requiring STARTTLS and then AUTH."""
    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("smtp-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticate,
    )
    controller.start()
    try:
        yield SmtpServer(mailbox, port, cert_file)
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    smtp_server.mailbox.received.clear()
    smtp_server.mailbox.reject.clear()
    smtp_server.mailbox.logins.clear()
    return smtp_server.mailbox


def email_channel(port: int, **extra: Any) -> EmailChannel:
    return EmailChannel.model_validate(
        {
            "type": "email",
            "name": "mail",
            "smtp_host": "127.0.0.1",
            "port": port,
            "from": "Firewatch <firewatch@example.com>",
            "timeout": "2s",
            **extra,
        }
    )


def _tls_auth(server: SmtpServer, **extra: Any) -> EmailChannel:
    return email_channel(
        server.port,
        security="starttls",
        ca_file=str(server.ca_file),
        username_env="FW_SMTP_USER",
        password_env="FW_SMTP_PASSWORD",
        **extra,
    )


async def test_email_goes_over_starttls_with_auth_as_plain_text_and_html(
    smtp_server: SmtpServer, mailbox: Mailbox, secrets_env: None
) -> None:
    sender = EmailSender(_tls_auth(smtp_server, to=["ml-team@company.com", "lead@company.com"]))
    note = notification(notification_id="fw-7-email-mail-ml-team@company.com")

    outcome = await sender.send(note)

    [(envelope, over_tls, authenticated)] = mailbox.received
    assert over_tls and authenticated and mailbox.logins == [SMTP_USER]
    assert envelope.mail_from == "firewatch@example.com"
    assert envelope.rcpt_tos == ["ml-team@company.com", "lead@company.com"]
    assert isinstance(envelope.content, bytes)
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "[Firewatch] SEV1 INC-2026-001: iris <model> & friends are down"
    assert message["From"] == "Firewatch <firewatch@example.com>"
    assert message["X-Firewatch-Notification-Id"] == note.id
    assert message["Message-ID"] == "<fw-7-email-mail-ml-team_company.com@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n").strip() == TEXT.strip()
    html_text = html.get_content()
    assert "iris &lt;model&gt; &amp; friends" in html_text and "<model>" not in html_text
    assert "ml-team@company.com" in outcome and "starttls" in outcome
    assert_no_secret(outcome)


async def test_email_without_to_goes_to_the_routes_target_address(
    smtp_server: SmtpServer, mailbox: Mailbox, secrets_env: None
) -> None:
    await EmailSender(_tls_auth(smtp_server)).send(notification(target="ml-lead@company.com"))
    [(envelope, _, _)] = mailbox.received
    assert envelope.rcpt_tos == ["ml-lead@company.com"]

    with pytest.raises(GiveUp, match="not an email address"):
        await EmailSender(_tls_auth(smtp_server)).send(notification(target="#ml-incidents"))


# asyncio leaves the plain socket of a failed STARTTLS upgrade (or a connection the server drops
# after a refused AUTH) for the garbage collector to close; when that happens during the test it
# is a ResourceWarning, not a failure of the channel.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_email_wrong_password_is_given_up_without_showing_it(
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    secrets_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FW_SMTP_PASSWORD", "not-the-password")
    with pytest.raises(GiveUp, match="authentication failed") as caught:
        await EmailSender(_tls_auth(smtp_server, to=["a@company.com"])).send(notification())
    assert "not-the-password" not in str(caught.value)
    assert mailbox.received == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("550 5.1.1 No such user", GiveUp), ("451 4.3.0 Try again later", RetryLater)],
)
async def test_email_recipient_refusals_follow_the_reply_class(
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    secrets_env: None,
    reply: str,
    expected: type[Exception],
) -> None:
    mailbox.reject["gone@company.com"] = reply
    with pytest.raises(expected, match=reply[:3]):
        await EmailSender(_tls_auth(smtp_server, to=["gone@company.com"])).send(notification())


# asyncio leaves the plain socket of a failed STARTTLS upgrade (or a connection the server drops
# after a refused AUTH) for the garbage collector to close; when that happens during the test it
# is a ResourceWarning, not a failure of the channel.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_email_to_an_untrusted_certificate_is_given_up_with_the_fix(
    smtp_server: SmtpServer, mailbox: Mailbox, secrets_env: None
) -> None:
    channel = email_channel(smtp_server.port, to=["a@company.com"])  # no ca_file
    with pytest.raises(GiveUp, match="ca_file"):
        await EmailSender(channel).send(notification())


async def test_an_unreachable_smtp_server_is_retried_with_a_clear_reason() -> None:
    port = free_port()
    channel = email_channel(port, security="none", to=["a@company.com"])
    with pytest.raises(RetryLater, match=f"SMTP 127.0.0.1:{port} unreachable"):
        await EmailSender(channel).send(notification())


async def test_an_smtp_server_that_never_greets_is_retried_after_the_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts the connection; nobody ever says 220
        port = listener.getsockname()[1]
        channel = email_channel(port, security="none", to=["a@company.com"], timeout="300ms")
        with pytest.raises(RetryLater, match="timed out"):
            await EmailSender(channel).send(notification())
