"""Email invariants: addresses, header safety, recipients, attachments, custom headers."""

from datetime import UTC, datetime

import pytest

from domain.errors import InvalidEmail
from domain.message import Attachment, Email, Mailbox

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def email(**changes: object) -> Email:
    fields: dict[str, object] = {
        "sender": "mailroom@example.org",
        "to": "user@example.com",
        "subject": "Hello",
        "body": "Hi",
        "message_id": "<1@example.org>",
        "date": NOW,
    }
    fields.update(changes)
    return Email(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hi\r\nBcc: victim@example.com"),
        ("subject", "tab\tin subject"),
        ("subject", "nul\x00"),
        ("subject", "line\u2028separator"),
        ("to", "user@example.com\r\nBcc: victim@example.com"),
        ("to", ""),
        ("to", "   "),
        ("to", "no-at-sign"),
        ("to", "@example.com"),
        ("to", "x@example.com, evil@example.net"),
        ("to", "Name <x@example.com>"),
        ("to", "x y@example.com"),
    ],
)
def test_header_injection_and_malformed_addresses_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidEmail) as raised:
        email(**{field: value})
    assert raised.value.field == ("email" if field == "to" else field)


def test_bodies_may_hold_any_text() -> None:
    assert email(body="line\r\n.\r\n\x00 and \u2028").body.startswith("line")


def test_dates_must_carry_an_offset() -> None:
    with pytest.raises(InvalidEmail):
        email(date=datetime(2026, 1, 1))


def test_non_ascii_subjects_are_accepted() -> None:
    assert email(subject="Grüße — 你好").subject == "Grüße — 你好"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to_name": "Name\r\nBcc: victim@example.com"}, "email"),
        ({"cc": (Mailbox("not-an-address"),)}, "cc"),
        ({"cc": (Mailbox("a@example.com", "tab\there"),)}, "cc"),
        ({"bcc": ("x@example.com\nBcc: y@example.com",)}, "bcc"),
        ({"bcc": ("",)}, "bcc"),
        ({"reply_to": Mailbox("Name <a@example.com>")}, "reply_to"),
        ({"body": "lone \ud800 surrogate"}, "body"),
        ({"html": "lone \udfff surrogate"}, "html"),
        ({"subject": "lone \ud800"}, "subject"),
    ],
)
def test_every_address_and_text_is_checked(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEmail) as raised:
        email(**changes)
    assert raised.value.field == field


def test_at_most_50_recipients_in_total() -> None:
    cc = tuple(Mailbox(f"cc{i}@example.com") for i in range(25))
    bcc = tuple(f"bcc{i}@example.com" for i in range(24))

    assert len(email(cc=cc, bcc=bcc).recipients) == 50
    with pytest.raises(InvalidEmail) as raised:
        email(cc=cc, bcc=(*bcc, "one-more@example.com"))
    assert raised.value.field == "bcc"
    with pytest.raises(InvalidEmail) as raised:
        email(cc=tuple(Mailbox(f"cc{i}@example.com") for i in range(50)))
    assert raised.value.field == "cc"


def test_recipients_are_to_cc_bcc_each_once() -> None:
    message = email(
        cc=(Mailbox("a@example.com", "A"), Mailbox("user@example.com")),
        bcc=("b@example.com", "a@example.com"),
    )

    assert message.recipients == ("user@example.com", "a@example.com", "b@example.com")


@pytest.mark.parametrize(
    ("changes", "needs"),
    [
        ({}, False),
        ({"to": "user@bücher.example"}, False),
        ({"to": "jörg@example.com"}, True),
        ({"cc": (Mailbox("zoë@example.com"),)}, True),
        ({"bcc": ("李@example.com",)}, True),
        ({"reply_to": Mailbox("ñ@example.com")}, True),
        ({"to_name": "Jörg"}, False),
    ],
)
def test_smtputf8_is_needed_only_for_a_non_ascii_local_part(
    changes: dict[str, object], needs: bool
) -> None:
    assert email(**changes).needs_smtputf8 is needs


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("", "text/plain"),
        (".", "text/plain"),
        ("..", "text/plain"),
        ("dir/file.txt", "text/plain"),
        ("dir\\file.txt", "text/plain"),
        ("bad\nname.txt", "text/plain"),
        ("nul\0.txt", "text/plain"),
        ("x" * 256, "text/plain"),
        ("a.txt", "text"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.txt", "text/pl ain"),
        ("a.txt", "multipart/mixed"),
        ("a.eml", "message/rfc822"),
        ("a.txt", "tëxt/plain"),
    ],
)
def test_attachments_need_a_base_name_and_a_media_type(filename: str, content_type: str) -> None:
    with pytest.raises(InvalidEmail) as raised:
        email(attachments=(Attachment(filename, content_type, b"x"),))
    assert raised.value.field == "attachments"


def test_a_good_attachment_is_kept() -> None:
    attachment = Attachment("Grüße 2024.pdf", "application/vnd.ms-excel", b"\0\xff")

    assert email(attachments=(attachment,)).attachments == (attachment,)


@pytest.mark.parametrize(
    "headers",
    [
        (("Subject", "override"),),
        (("From", "evil@example.com"),),
        (("Bcc", "x@example.com"),),
        (("Content-Type", "text/html"),),
        (("MIME-Version", "2.0"),),
        (("Message-ID", "<x@y>"),),
        (("X-", "empty suffix"),),
        (("X-Bad Name", "v"),),
        (("X-Colon:", "v"),),
        (("X-Ünicode", "v"),),
        (("X-" + "n" * 63, "v"),),
        (("X-Tag", "a\r\nBcc: victim@example.com"),),
        (("X-Tag", "tab\there"),),
        (("X-Tag", "v" * 901),),
        (("References", "<ümlaut@example.org>"),),
        (("In-Reply-To", "<a@example.org>"), ("In-Reply-To", "<b@example.org>")),
        (("in-reply-to", "<a@example.org>"),),
        (("REFERENCES", "<a@example.org>"),),
        tuple((f"X-H{i}", "v") for i in range(21)),
    ],
)
def test_custom_headers_cannot_override_or_inject(headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(InvalidEmail) as raised:
        email(headers=headers)
    assert raised.value.field == "headers"


def test_x_headers_and_the_allow_list_are_accepted() -> None:
    headers = (
        ("X-Campaign", "spring ☃"),
        ("In-Reply-To", "<parent@example.org>"),
        ("References", "<a@example.org> <b@example.org>"),
        ("x-campaign", "repeats are allowed"),
        ("X-CAMPAIGN", ""),
        ("List-Unsubscribe", "<mailto:unsubscribe@example.org>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),
        ("List-Id", "News <news.example.org>"),
    )

    assert email(headers=headers).headers == headers


def test_at_most_twenty_attachments() -> None:
    twenty = tuple(Attachment(f"{n}.txt", "text/plain", b"x") for n in range(20))
    assert len(email(attachments=twenty).attachments) == 20
    with pytest.raises(InvalidEmail) as raised:
        email(attachments=(*twenty, Attachment("21.txt", "text/plain", b"x")))
    assert raised.value.field == "attachments"
