"""Translate whatever an SMTP exchange raised into the ``Mailer`` port's errors.

Reply codes decide (RFC 5321 §4.2.1, via ``delivery_error_for_reply``): 5yz permanent, anything
else transient. Without a reply: a failed certificate verification is permanent (retrying cannot
fix it); timeouts, lost connections, other TLS and socket errors, and anything unexpected are
transient.
"""

import ssl
from collections.abc import Iterator

import aiosmtplib

from application.errors import (
    DeliveryFailed,
    PermanentDeliveryError,
    TransientDeliveryError,
    delivery_error_for_reply,
)

_REDACTED = "<redacted>"


def delivery_error(
    exc: BaseException, *, possibly_delivered: bool = False, secret: str | None = None
) -> DeliveryFailed:
    """The port error for ``exc``; ``secret`` (the password) is blanked out of its reason."""
    error = _classify(exc, possibly_delivered)
    if secret and secret in error.reason:
        return type(error)(
            error.reason.replace(secret, _REDACTED),
            code=error.code,
            possibly_delivered=possibly_delivered,
        )
    return error


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
