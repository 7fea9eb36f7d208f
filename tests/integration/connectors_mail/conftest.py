"""Real peers for the mail connector tests: aiosmtpd submission servers with trustme certificates, and Redis.

- `smtp_server` (module scope): aiosmtpd on a free 127.0.0.1 port that behaves like a submission server:
  STARTTLS required before anything else (`require_starttls`), AUTH only after TLS (`auth_require_tls`),
  AUTH required for MAIL, XOAUTH2 the only mechanism, and a DATA limit of 40 MiB (above the 33.77 MiB a
  25 MiB attachment becomes). XOAUTH2 accepts only GOOD_TOKEN for SMTP_USER; a bad token gets the
  Gmail-style 334 error challenge, then 535. The handler records every accepted message and can be
  scripted per test (RCPT / DATA replies) to produce 4xx and 5xx answers.
- `plain_server` (module scope): the same without TLS at all (STARTTLS not offered).
- `redis_server`: reused from the SMS connector tests (a real redis-server on a free port).
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session

from connectors.mail.client import MailSender
from connectors.mail.compose import ArchiveLinker, MailComposer
from connectors.mail.rendering import Brand, MailTemplates
from connectors.mail.settings import MailSettings, StaticTokenProvider, TokenProvider
from connectors.mail.suppression import InMemorySuppressionList, SuppressionList
from infra.clock import SystemClock
from tests.integration.connectors_sms.conftest import RedisServer as RedisServer
from tests.integration.connectors_sms.conftest import free_port
from tests.integration.connectors_sms.conftest import redis_server as redis_server

SMTP_USER = "reports@luckygas.com"
GOOD_TOKEN = "ya29.a0-good-token-for-integration-tests"
DATA_LIMIT = 40 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    auth_user: str | None


@dataclass
class RecordingHandler:
    """aiosmtpd handler: XOAUTH2 check, scripted replies, and a record of what was accepted."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    # address -> replies to give to RCPT before accepting it ("550 ..." entries repeat forever).
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    # replies to give to DATA (one per transaction) before accepting.
    data_script: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.messages.clear()
        self.logins.clear()
        self.rcpt_script.clear()
        self.data_script.clear()

    async def auth_XOAUTH2(self, server: SMTPServer, args: list[str]) -> AuthResult:
        """SASL XOAUTH2: base64("user=" U "\\x01auth=Bearer " T "\\x01\\x01"), initial response inline."""
        if len(args) > 1:
            raw = base64.b64decode(args[1])
        else:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)  # client aborted; aiosmtpd already replied 501
            raw = answer
        pairs = [part.split("=", 1) for part in raw.decode().split("\x01") if "=" in part]
        fields = {key: value for key, value in pairs}
        user, auth = fields.get("user", ""), fields.get("auth", "")
        ok = user == SMTP_USER and auth == f"Bearer {GOOD_TOKEN}"
        self.logins.append((user, ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        # Like Gmail: an error challenge; the client answers with an empty line, then gets 535.
        error = json.dumps({"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        script = self.rcpt_script.get(address.lower())
        if script:
            reply = script[0] if script[0].startswith("5") else script.pop(0)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_script:
            return self.data_script.pop(0)
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append(
            Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content, getattr(session, "auth_data", None))
        )
        return "250 2.0.0 Message accepted for delivery"


@dataclass(frozen=True)
class SmtpServer:
    port: int
    handler: RecordingHandler
    ca_file: Path


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    ca_file: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = trustme.CA(organization_name="Lucky Gas test CA")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Pki(ca, ca_file, context)


def _start(handler: RecordingHandler, **smtp_kwargs: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="mail.test.luckygas.com",
        auth_required=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
        data_size_limit=DATA_LIMIT,
        ready_timeout=10.0,
        **smtp_kwargs,
    )
    controller.start()
    return controller, port


@pytest.fixture(scope="module")
def smtp_server(pki: Pki) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    controller, port = _start(handler, tls_context=pki.server_context, require_starttls=True, auth_require_tls=True)
    try:
        yield SmtpServer(port, handler, pki.ca_file)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def plain_server(pki: Pki) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    controller, port = _start(handler)  # no tls_context: STARTTLS is not offered
    try:
        yield SmtpServer(port, handler, pki.ca_file)
    finally:
        controller.stop()


@pytest.fixture
def server(smtp_server: SmtpServer) -> SmtpServer:
    """The TLS server with a clean record and no scripted replies."""
    smtp_server.handler.reset()
    return smtp_server


def mail_settings(server: SmtpServer, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "local_hostname": "reporter.test.luckygas.com",
        "sender_address": SMTP_USER,
        "bounce_address": "bounces@luckygas.com",
        "ca_file": server.ca_file,
        "oauth_token": GOOD_TOKEN,
        "connect_timeout_seconds": 5.0,
        "send_timeout_seconds": 30.0,
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.2,
    }
    values.update(overrides)
    return MailSettings(_env_file=None, **values)


SenderFactory = Callable[..., MailSender]


@pytest.fixture
async def make_sender() -> AsyncIterator[SenderFactory]:
    """Build MailSenders against a server; every one is closed (QUIT) after the test."""
    made: list[MailSender] = []

    def build(
        server: SmtpServer,
        *,
        token_provider: TokenProvider | None = None,
        suppression: SuppressionList | None = None,
        archive_link: ArchiveLinker | None = None,
        max_messages_per_connection: int = 100,
        **overrides: Any,
    ) -> MailSender:
        settings = mail_settings(server, **overrides)
        composer = MailComposer(
            settings, MailTemplates(Brand.from_settings(settings)), archive_link=archive_link, clock=SystemClock()
        )
        sender = MailSender(
            settings,
            token_provider or StaticTokenProvider.from_settings(settings),
            composer,
            suppression if suppression is not None else InMemorySuppressionList(),
            max_messages_per_connection=max_messages_per_connection,
        )
        made.append(sender)
        return sender

    yield build
    for sender in made:
        await sender.aclose()
