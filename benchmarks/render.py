"""CPU cost of rendering one message: ``adapters.mime.render`` against the standard library's
``EmailMessage`` (``tests.unit.mime_reference``, the way Mailroom rendered before), for a plain
ASCII and a UTF-8 text message, plus the multipart path (HTML and an attachment).

Run from the repository root: ``.venv/bin/python -m benchmarks.render``. Prints the best of five
runs, in ms per render.
"""

import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.mime import render
from domain.message import Attachment, Email
from tests.unit.mime_reference import reference_render

DATE = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
MESSAGE_ID = "<3b0f9a7e-1234-4a5b-9c8d-0123456789ab@example.org>"
ASCII = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Your order #1234 has shipped",
    body="Hello,\n\nYour order has shipped and should arrive on Friday.\n\nThanks!\n" * 3,
    message_id=MESSAGE_ID,
    date=DATE,
)
UTF8 = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Grüße aus Zürich: Ihre Bestellung ist unterwegs",
    body="Grüße,\n\nIhre Bestellung ist unterwegs und kommt am Freitag an.\n\nDanke!\n" * 3,
    message_id=MESSAGE_ID,
    date=DATE,
)
RICH = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject=UTF8.subject,
    body=UTF8.body,
    html="<p>" + UTF8.body.replace("\n", "<br>") + "</p>",
    attachments=(Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 " * 400),),
    message_id=MESSAGE_ID,
    date=DATE,
)


def ms_per_call(function: Callable[[], object], number: int = 2000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1000


def main() -> None:
    print(f"{'message':<10} {'stdlib ms':>10} {'render ms':>10} {'speed-up':>9}")
    for name, email in (("ascii", ASCII), ("utf-8", UTF8)):
        before = ms_per_call(lambda email=email: reference_render(email))
        after = ms_per_call(lambda email=email: render(email))
        print(f"{name:<10} {before:>10.3f} {after:>10.3f} {before / after:>8.1f}x")
    print(f"{'multipart':<10} {'':>10} {ms_per_call(lambda: render(RICH), 500):>10.3f}")


if __name__ == "__main__":
    main()
