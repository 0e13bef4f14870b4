"""Translate whatever an SMTP exchange raised into the ``Mailer`` port's errors.

Reply codes decide (RFC 5321 §4.2.1, via ``delivery_error_for_reply``): 5yz permanent, anything
else transient. Without a reply: a failed certificate verification is permanent (retrying cannot
fix it); timeouts, lost connections, other TLS and socket errors, and anything unexpected are
transient.
"""

import base64
import ssl
from collections.abc import Iterable, Iterator

import aiosmtplib

from application.errors import (
    DeliveryFailed,
    PermanentDeliveryError,
    TransientDeliveryError,
    delivery_error_for_reply,
)

_REDACTED = "<redacted>"


def delivery_error(
    exc: BaseException, *, possibly_delivered: bool = False, secrets: Iterable[str] = ()
) -> DeliveryFailed:
    """The port error for ``exc``; each of ``secrets`` (the password and its encodings, see
    ``auth_secrets``) is blanked out of its reason."""
    error = _classify(exc, possibly_delivered)
    reason = error.reason
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, _REDACTED)
    if reason == error.reason:
        return error
    return type(error)(reason, code=error.code, possibly_delivered=possibly_delivered)


def auth_secrets(username: str | None, password: str | None) -> tuple[str, ...]:
    """The password as it may come back in a server's reply: as is, base64 (AUTH LOGIN) and
    inside the base64 AUTH PLAIN response (RFC 4616), which some servers echo when refusing it."""
    if not password:
        return ()
    plain = f"\0{username or ''}\0{password}"
    encoded = (base64.b64encode(text.encode()).decode() for text in (password, plain))
    return (password, *encoded)


def _classify(exc: BaseException, possibly_delivered: bool) -> DeliveryFailed:
    if isinstance(exc, DeliveryFailed):
        return exc
    certificate_error = _find_certificate_error(exc)
    if certificate_error is not None:
        detail = getattr(certificate_error, "verify_message", None) or certificate_error
        reason = f"TLS certificate verification failed: {detail}"
        return PermanentDeliveryError(reason, possibly_delivered=possibly_delivered)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _for_reply(exc.code, exc.message, possibly_delivered)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return _for_reply(exc.recipients[0].code, exc.recipients[0].message, possibly_delivered)
    return TransientDeliveryError(_describe(exc), possibly_delivered=possibly_delivered)


def _for_reply(code: int, message: str, possibly_delivered: bool) -> DeliveryFailed:
    text = " ".join(message.splitlines())
    if 100 <= code <= 599:
        return delivery_error_for_reply(code, text, possibly_delivered=possibly_delivered)
    return TransientDeliveryError(
        f"invalid reply from server: {text}", possibly_delivered=possibly_delivered
    )


def _describe(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return f"timeout: {detail}"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return f"connection lost: {detail}"
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return f"cannot connect: {detail}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return f"SMTP error: {detail}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {detail}"
    if isinstance(exc, OSError):
        return f"network error: {detail}"
    return f"unexpected {type(exc).__name__}: {detail}"


def _find_certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            return link
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling (aiosmtplib wraps)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
