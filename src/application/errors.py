"""Errors raised through the ports; adapters translate infrastructure exceptions into these.

    MailroomError (domain)
     ├── StoreUnavailable        the task store or queue cannot be reached now (retry later)
     ├── ConcurrentUpdate        a compare-and-set lost: someone else wrote the task first
     ├── IdempotencyKeyReused    an idempotency key sent again with a different request
     ├── InvalidCursor           a listing cursor this service did not hand out
     └── DeliveryFailed          the mailer could not hand the message over
          ├── TransientDeliveryError   worth retrying (network, timeout, SMTP 4yz)
          └── PermanentDeliveryError   retrying cannot help (SMTP 5yz, bad certificate)

SMTP reply classes follow RFC 5321 §4.2.1: 4yz is a transient negative completion, 5yz a
permanent one. Classify by reply code, never by reply text.
"""

from domain.errors import MailroomError


class StoreUnavailable(MailroomError):
    """The task store or queue could not be reached or did not answer in time."""


class ConcurrentUpdate(MailroomError):
    """The stored task's version was not the one the write expected."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} was changed by someone else")
        self.task_id = task_id


class IdempotencyKeyReused(MailroomError):
    """The idempotency key was first used with a request of different content (draft-ietf-httpapi-
    idempotency-key-header §2.7: the server answers 422). The key itself is not kept here."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request")


class InvalidCursor(MailroomError):
    """A listing cursor that is not one this service handed out."""

    def __init__(self) -> None:
        super().__init__("not a cursor from a previous page")


class DeliveryFailed(MailroomError):
    """The mailer could not deliver.

    ``code`` is the SMTP reply code when the server gave one; ``possibly_delivered`` is True when
    the whole message (up to the final ".") was sent but no reply to it arrived (a timeout or a
    lost connection), so the server may hold the message (RFC 5321 §4.1.1.4, §6.1).
    """

    permanent = False

    def __init__(
        self, reason: str, *, code: int | None = None, possibly_delivered: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.possibly_delivered = possibly_delivered


class TransientDeliveryError(DeliveryFailed):
    """A failure that a later attempt may overcome."""


class PermanentDeliveryError(DeliveryFailed):
    """A failure that no later attempt can overcome."""

    permanent = True


def delivery_error_for_reply(
    code: int, text: str, *, possibly_delivered: bool = False
) -> DeliveryFailed:
    """The error for a negative SMTP reply: 5yz permanent, anything else transient (RFC 5321
    §4.2.1). The reason reads ``"<code> <text>"``."""
    kind = PermanentDeliveryError if 500 <= code <= 599 else TransientDeliveryError
    return kind(f"{code} {text}".strip(), code=code, possibly_delivered=possibly_delivered)
