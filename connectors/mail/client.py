"""Async SMTP submission client: STARTTLS on 587, SASL XOAUTH2, suppression, retries.

Contract of `MailSender.send(request) -> SendResult`:
- Before anything touches the network: recipients are normalized; those on the suppression list are
  removed from the envelope AND the headers (reported in `SendResult.suppressed`); if none is left,
  `AllRecipientsSuppressed` and no connection is made. A suppression list that cannot be read raises
  (fail closed: better a late report than mail to an address that bounced). The message is composed
  (`MailComposer`: size limit, attachments linked instead when too large).
- Connection: TCP, then STARTTLS is mandatory and the certificate verified (`MailTlsError` otherwise, never
  a plaintext fallback); then AUTH XOAUTH2 with a token from the injected `TokenProvider`, fetched for every
  new connection so a refreshed token is used (`MailAuthError` when refused or not offered).
  One connection is reused across sends (serialized by a lock) and replaced after
  `max_messages_per_connection` messages or when it drops; `aclose()` (or `async with`) sends QUIT.
- Retries: connection errors, timeouts and 4xx replies (transaction-wide or per recipient) are retried with
  exponential backoff + jitter, up to `max_retries` times, for the recipients still pending only (never
  twice to an accepted recipient). 5xx replies are permanent: a refused recipient lands in
  `SendResult.refused`; a refused sender or message raises `MailRejected`.
- Returns `SendResult` when at least one recipient accepted the message; recipients that still had 4xx
  after the retries are in `refused` with `permanent=False`. When none accepted: `MailRejected` if the
  refusals were permanent, else `MailUnavailable`.
Known limit: if the connection drops after the message data was sent but before the server's reply, the
retry may deliver a second copy (SMTP has no idempotency key); reports tolerate that, silence would not.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
)

from connectors.mail.compose import ArchiveLinker, ComposedMail, MailComposer, MailRequest
from connectors.mail.errors import (
    AllRecipientsSuppressed,
    MailAuthError,
    MailRejected,
    MailTlsError,
    MailUnavailable,
    NoRecipients,
    RecipientRefusal,
)
from connectors.mail.rendering import ArchivedFile, Brand, MailTemplates
from connectors.mail.settings import MailSettings, StaticTokenProvider, TokenProvider
from connectors.mail.suppression import SuppressionList
from infra.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one `send`: who got it, who refused it, who was never tried (suppressed)."""

    message_id: str
    accepted: tuple[str, ...]
    refused: tuple[RecipientRefusal, ...]
    suppressed: tuple[str, ...]
    archived: tuple[ArchivedFile, ...]
    size_bytes: int
    attempts: int


class _Transient(Exception):
    """Internal: this attempt failed in a retryable way."""

    def __init__(self, reason: str, code: int | None = None, *, disconnected: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.disconnected = disconnected


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Equal-jitter exponential delay after failed attempt `attempt` (0-based): half fixed, half random."""
    ceiling = min(cap_s, base_s * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


class MailSender:
    """Sends composed mail through the submission server (see module contract)."""

    def __init__(
        self,
        settings: MailSettings,
        token_provider: TokenProvider,
        composer: MailComposer,
        suppression: SuppressionList,
        *,
        max_messages_per_connection: int = 100,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._token_provider = token_provider
        self._composer = composer
        self._suppression = suppression
        self._max_per_connection = max_messages_per_connection
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._tls = settings.tls_context()
        self._smtp: aiosmtplib.SMTP | None = None
        self._sent_on_connection = 0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> MailSender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """QUIT and close the open connection, if any."""
        async with self._lock:
            await self._quit()

    async def send(self, request: MailRequest) -> SendResult:
        """Check suppression, compose, deliver (see module contract)."""
        recipients = request.envelope_recipients
        if not recipients:
            raise NoRecipients("the mail request has no recipient")
        suppressed = await self._suppression.suppressed_among(recipients)
        if suppressed:
            log.info("not mailing suppressed recipient(s): %s", ", ".join(sorted(suppressed)))
            if suppressed.issuperset(recipients):
                raise AllRecipientsSuppressed(sorted(suppressed))
            request = request.without(suppressed)
        composed = await self._composer.compose(request)
        async with self._lock:
            return await self._deliver(composed, tuple(sorted(suppressed)))

    async def _deliver(self, composed: ComposedMail, suppressed: tuple[str, ...]) -> SendResult:
        pending = list(composed.recipients)
        accepted: list[str] = []
        refused: list[RecipientRefusal] = []
        attempt = 0
        last: _Transient | None = None
        while True:
            attempt += 1
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                smtp = await self._connection()
                errors = await self._transaction(smtp, composed, pending)
            except MailRejected as rejected:
                if not accepted:
                    raise
                # Some recipients got it on an earlier attempt: report the rest as refused, do not raise.
                code = rejected.code or 0
                refused.extend(RecipientRefusal(a, code, str(rejected), permanent=True) for a in pending)
                pending = []
                break
            except _Transient as failure:
                await self._quit()
                last = failure
                if reused and failure.disconnected:
                    # A kept-alive connection the server dropped meanwhile: reconnect at once, uncounted.
                    attempt -= 1
                    continue
            else:
                self._sent_on_connection += 1
                deferred: dict[str, SMTPResponse] = {}
                for address in pending:
                    reply = errors.get(address)
                    if reply is None:
                        accepted.append(address)
                    elif reply.code >= 500:
                        refused.append(RecipientRefusal(address, reply.code, reply.message, permanent=True))
                    else:
                        deferred[address] = reply
                pending = list(deferred)
                if not pending:
                    break
                first = next(iter(deferred.values()))
                last = _Transient(f"{len(deferred)} recipient(s) deferred: {first.code} {first.message}", first.code)
            if attempt > self._settings.max_retries:
                break
            delay = backoff_delay(
                attempt - 1, self._settings.backoff_base_seconds, self._settings.backoff_max_seconds, self._rng
            )
            log.warning("mail %s attempt %d failed (%s); retrying in %.2fs", composed.message_id, attempt, last, delay)
            await self._sleep(delay)
        return self._result(composed, accepted, refused, pending, last, attempt, suppressed)

    def _result(
        self,
        composed: ComposedMail,
        accepted: list[str],
        refused: list[RecipientRefusal],
        pending: list[str],
        last: _Transient | None,
        attempts: int,
        suppressed: tuple[str, ...],
    ) -> SendResult:
        code = last.code if last is not None else None
        refused.extend(RecipientRefusal(a, code or 0, str(last), permanent=False) for a in pending)
        if not accepted:
            if pending:
                raise MailUnavailable(
                    f"gave up on {composed.message_id} after {attempts} attempts: {last}", attempts, code
                )
            shown = "; ".join(f"{r.address}: {r.code} {r.message}" for r in refused)
            raise MailRejected(f"every recipient was refused: {shown}", refused[0].code, refused)
        return SendResult(
            message_id=composed.message_id,
            accepted=tuple(accepted),
            refused=tuple(refused),
            suppressed=suppressed,
            archived=composed.archived,
            size_bytes=composed.size,
            attempts=attempts,
        )

    async def _connection(self) -> aiosmtplib.SMTP:
        """The open authenticated connection, or a new one (STARTTLS + XOAUTH2)."""
        if self._smtp is not None and self._smtp.is_connected and self._sent_on_connection < self._max_per_connection:
            return self._smtp
        await self._quit()
        settings = self._settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            local_hostname=settings.local_hostname,
            timeout=settings.connect_timeout_seconds,
            start_tls=True,
            tls_context=self._tls,
        )
        try:
            await self._open(smtp)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        self._sent_on_connection = 0
        return smtp

    async def _open(self, smtp: aiosmtplib.SMTP) -> None:
        where = f"{self._settings.host}:{self._settings.port}"
        try:
            await smtp.connect()
        except ssl.SSLError as exc:
            raise MailTlsError(f"TLS with {where} failed (certificate not trusted or handshake error): {exc}") from exc
        except SMTPResponseException as exc:
            if exc.code >= 500:
                raise MailRejected(f"{where} refused the session: {exc.code} {exc.message}", exc.code) from exc
            raise _Transient(f"{where}: {exc.code} {exc.message}", exc.code) from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise _Transient(f"cannot connect to {where}: {exc}", disconnected=True) from exc
        except SMTPException as exc:
            # What remains from connect() is STARTTLS not being offered: never continue in plaintext.
            raise MailTlsError(f"{where} does not offer STARTTLS; refusing to send in plaintext: {exc}") from exc
        try:
            if smtp.is_ehlo_or_helo_needed:
                await smtp.ehlo()  # RFC 3207: what the server offered before STARTTLS no longer counts
            if "xoauth2" not in smtp.server_auth_methods:
                raise MailAuthError(f"{where} does not offer AUTH XOAUTH2 (offers: {smtp.server_auth_methods})")
            token = await self._token_provider()
            await smtp.auth_xoauth2(self._settings.auth_user, token)
        except SMTPAuthenticationError as exc:
            if 400 <= exc.code < 500:  # 454: temporary authentication failure
                raise _Transient(f"{where} auth: {exc.code} {exc.message}", exc.code) from exc
            raise MailAuthError(
                f"{where} refused XOAUTH2 for {self._settings.auth_user}: {exc.code} {exc.message}", exc.code
            ) from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise _Transient(f"{where} dropped the session during EHLO/AUTH: {exc}", disconnected=True) from exc

    async def _transaction(
        self, smtp: aiosmtplib.SMTP, composed: ComposedMail, recipients: Sequence[str]
    ) -> dict[str, SMTPResponse]:
        """MAIL/RCPT/DATA for `recipients`; per-recipient error replies (all of them if all refused)."""
        try:
            errors, _reply = await smtp.sendmail(
                self._settings.envelope_sender,
                list(recipients),
                composed.wire,
                timeout=self._settings.send_timeout_seconds,
            )
        except SMTPRecipientsRefused as exc:
            return {r.recipient: SMTPResponse(r.code, r.message) for r in exc.recipients}
        except SMTPResponseException as exc:
            if exc.code >= 500:
                raise MailRejected(
                    f"server refused message {composed.message_id}: {exc.code} {exc.message}", exc.code
                ) from exc
            raise _Transient(f"{exc.code} {exc.message}", exc.code, disconnected=exc.code == 421) from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _Transient(f"connection lost while sending: {exc}", disconnected=True) from exc
        return errors

    async def _quit(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit()
        except (SMTPException, ConnectionError, TimeoutError):
            pass  # closing anyway; a failed QUIT changes nothing for us
        finally:
            smtp.close()


def build_mail_sender(
    settings: MailSettings,
    suppression: SuppressionList,
    *,
    token_provider: TokenProvider | None = None,
    archive_link: ArchiveLinker | None = None,
    clock: Clock | None = None,
) -> MailSender:
    """A `MailSender` wired with the packaged templates; the token comes from `token_provider`, else from
    `LG_MAIL_OAUTH_TOKEN` (`StaticTokenProvider`). Use it as `async with build_mail_sender(...) as sender`."""
    templates = MailTemplates(Brand.from_settings(settings))
    composer = MailComposer(settings, templates, archive_link=archive_link, clock=clock)
    provider = token_provider or StaticTokenProvider.from_settings(settings)
    return MailSender(settings, provider, composer, suppression)
