"""The directly written plain-text message reads back exactly like the standard library's
``EmailMessage`` rendering of the same email (``tests.unit.mime_reference``): same header fields
in the same order with the same values, same content type, charset and transfer encoding, same
body. The reader is ``email.message_from_bytes(policy=email.policy.default)``."""

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest

from adapters.mime import render
from domain.message import Mailbox
from tests.unit.mime_reference import reference_render
from tests.unit.test_mime import make_email

BODIES = {
    "ascii": "Hello,\n\nYour order has shipped.\nThanks",
    "utf-8": "Grüße aus Zürich — 你好 📬",
    "dots": "first\n.\n..two\n.leading\nlast",
    "mixed line ends": "a\rb\nc\r\nd\n\n",
    "trailing line break": "ends with a break\n",
    "empty": "",
    "998 octets": "x" * 998,
    "999 octets": "x" * 999,
    "5000 characters": "é" * 2500 + "y" * 2500,
    "nul": "nul\0byte",
    "trailing spaces": "space at end \ntab\tinside",
    "form feed": "page\x0cbreak",
}
SUBJECTS = {
    "ascii": "Your order #1234 has shipped",
    "utf-8": "Grüße aus Zürich",
    "long ascii": "word " * 30 + "end",
    "long utf-8": "Grüße aus Zürich — 你好 " * 8,
    "punctuation": 'Re: [ticket #7] (urgent) "quoted" <angle> a@b.c',
    "empty": "",
}
HEADERS: dict[str, dict[str, Any]] = {
    "cc": {"cc": (Mailbox("ann@example.com", "Ann Example"), Mailbox("bob@example.com"))},
    "cc with specials": {"cc": (Mailbox("doe@example.com", "Doe, John"),)},
    "display names": {"to_name": "Jörg Müller", "cc": (Mailbox("z@example.com", "Zoë"),)},
    "reply-to": {"reply_to": Mailbox("support@example.com", "Support")},
    "custom": {"headers": (("X-Campaign", "spring sale"), ("X-Tag", "Grüße"))},
    "in-reply-to": {"headers": (("In-Reply-To", "<parent.1@example.org>"),)},
    "many cc": {"cc": tuple(Mailbox(f"user{i}@example.com", f"User {i}") for i in range(40))},
}


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def assert_reads_the_same(fast: bytes, reference: bytes, *, skip: tuple[str, ...] = ()) -> None:
    ours, theirs = parse(fast), parse(reference)
    assert [name.lower() for name in ours] == [name.lower() for name in theirs]
    for name, value in theirs.items():
        if name in skip:
            continue
        assert str(ours[name]) == str(value), name
        if hasattr(value, "addresses"):
            assert ours[name].addresses == value.addresses, name
    assert ours.get_content_type() == theirs.get_content_type()
    assert ours.get_content_charset() == theirs.get_content_charset()
    assert ours["Content-Transfer-Encoding"] == theirs["Content-Transfer-Encoding"]
    assert ours.get_content() == theirs.get_content()
    assert ours.get_payload(decode=True) == theirs.get_payload(decode=True)
    assert ours.defects == theirs.defects == []


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_bodies_read_the_same(body: str) -> None:
    email_ = make_email(body=body)

    assert_reads_the_same(render(email_), reference_render(email_))


@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_subjects_read_the_same(subject: str) -> None:
    email_ = make_email(subject=subject)

    assert parse(render(email_))["Subject"] == subject
    # Folding a long non-ASCII subject, the standard library (3.11) drops some of the spaces
    # between encoded-words; ours keeps the subject exact, as asserted above.
    skip = ("Subject",) if subject == SUBJECTS["long utf-8"] else ()
    assert_reads_the_same(render(email_), reference_render(email_), skip=skip)


@pytest.mark.parametrize("changes", HEADERS.values(), ids=HEADERS.keys())
def test_other_headers_read_the_same(changes: dict[str, Any]) -> None:
    email_ = make_email(**changes)

    assert_reads_the_same(render(email_), reference_render(email_))


def test_a_7bit_body_is_byte_for_byte_the_same() -> None:
    email_ = make_email(body=BODIES["dots"] + "\n" + BODIES["mixed line ends"])

    assert (
        render(email_).split(b"\r\n\r\n", 1)[1] == reference_render(email_).split(b"\r\n\r\n", 1)[1]
    )
