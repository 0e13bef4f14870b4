"""Guard: every exception an SMTP exchange can raise becomes the Mailer port's error."""

import inspect
import ssl

import aiosmtplib
import aiosmtplib.errors
import pytest

from adapters.smtp_errors import delivery_error
from application.errors import DeliveryFailed, PermanentDeliveryError, TransientDeliveryError

CONSTRUCTOR_ARGUMENTS: dict[str, object] = {
    "message": "boom",
    "code": 451,
    "sender": "mailroom@example.org",
    "recipient": "user@example.com",
    "recipients": [aiosmtplib.SMTPRecipientRefused(550, "no such user", "user@example.com")],
}


def aiosmtplib_exception_classes() -> list[type[BaseException]]:
    found = {
        value
        for module in (aiosmtplib, aiosmtplib.errors)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__.startswith("aiosmtplib")
    }
    return sorted(found, key=lambda cls: cls.__name__)


def instantiate(cls: type[BaseException]) -> BaseException:
    parameters = inspect.signature(cls).parameters
    return cls(*(CONSTRUCTOR_ARGUMENTS[name] for name in parameters))


def test_the_guard_sees_the_library_exceptions() -> None:
    classes = aiosmtplib_exception_classes()

    assert aiosmtplib.SMTPException in classes
    assert aiosmtplib.SMTPReadTimeoutError in classes


@pytest.mark.parametrize("cls", aiosmtplib_exception_classes(), ids=lambda cls: cls.__name__)
def test_every_aiosmtplib_exception_becomes_a_delivery_error(cls: type[BaseException]) -> None:
    error = delivery_error(instantiate(cls))

    assert isinstance(error, DeliveryFailed)
    assert error.reason


def certificate_failure() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] verify failed")
    error.verify_message = "self-signed certificate"
    return error


def wrapped_certificate_failure() -> aiosmtplib.SMTPConnectError:
    error = aiosmtplib.SMTPConnectError("Error connecting to smtp.example.org on port 465")
    error.__cause__ = certificate_failure()
    return error


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError(), TransientDeliveryError),
        (ConnectionRefusedError(111, "Connection refused"), TransientDeliveryError),
        (ConnectionResetError(104, "Connection reset by peer"), TransientDeliveryError),
        (OSError(101, "Network is unreachable"), TransientDeliveryError),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            TransientDeliveryError,
        ),
        (certificate_failure(), PermanentDeliveryError),
        (wrapped_certificate_failure(), PermanentDeliveryError),
        (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), PermanentDeliveryError),
        (
            aiosmtplib.SMTPResponseException(-1, "Malformed SMTP response line"),
            TransientDeliveryError,
        ),
        (RuntimeError("surprise"), TransientDeliveryError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_infrastructure_errors_are_classified(
    exc: BaseException, kind: type[DeliveryFailed]
) -> None:
    assert type(delivery_error(exc)) is kind


def test_timeouts_say_so() -> None:
    assert "timeout" in delivery_error(aiosmtplib.SMTPReadTimeoutError("Timed out")).reason


def test_certificate_failures_say_so() -> None:
    assert "certificate" in delivery_error(wrapped_certificate_failure()).reason


def test_reason_has_the_code_and_the_server_text() -> None:
    error = delivery_error(aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "u@x.y"))

    assert error.reason == "550 5.1.1 no such user"
    assert error.code == 550


def test_possibly_delivered_is_carried_over() -> None:
    error = delivery_error(aiosmtplib.SMTPServerDisconnected("lost"), possibly_delivered=True)

    assert error.possibly_delivered


def test_the_secret_is_blanked_out() -> None:
    error = delivery_error(
        aiosmtplib.SMTPAuthenticationError(535, "bad password hunter2"), secrets=["hunter2"]
    )

    assert "hunter2" not in error.reason
    assert error.code == 535
