"""Rendering an Email as RFC 5322 bytes: headers, body transparency, transfer encodings,
multipart messages (HTML alternative, attachments)."""

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from adapters.mime import render
from domain.message import Attachment, Email, Mailbox

DATE = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_email(**changes: Any) -> Email:
    fields: dict[str, Any] = {
        "sender": "mailroom@example.org",
        "to": "user@example.com",
        "subject": "Hello",
        "body": "Hi there",
        "message_id": "<task-1@example.org>",
        "date": DATE,
    }
    return Email(**(fields | changes))


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_of(raw: bytes) -> str:
    """The decoded body as a reader sees it (the parser keeps the CRLF line ends)."""
    return str(parse(raw).get_content()).replace("\r\n", "\n")


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_headers_carry_the_email_fields_as_given() -> None:
    message = parse(render(make_email()))

    assert message["From"] == "mailroom@example.org"
    assert message["To"] == "user@example.com"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"] == "<task-1@example.org>"
    assert message["Date"].datetime == DATE
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"


def test_date_keeps_its_utc_offset() -> None:
    date = datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    raw = render(make_email(date=date))

    assert b"Date: Sat, 01 Jun 2024 12:00:00 +0200\r\n" in raw


def test_non_ascii_subject_is_encoded_per_rfc_2047_and_decodes_back() -> None:
    raw = render(make_email(subject="Grüße ☃ from Zürich"))

    header = raw.split(b"\r\n\r\n", 1)[0]
    assert header.isascii()
    assert b"=?utf-8?" in header
    assert parse(raw)["Subject"] == "Grüße ☃ from Zürich"


def test_every_line_ends_in_crlf() -> None:
    raw = render(make_email(body="one\ntwo\rthree\r\nfour"))

    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.count(b"\r") == raw.count(b"\r\n")


def test_body_round_trips_with_dot_lines_and_normalized_line_ends() -> None:
    body = "first\n.\n..two dots\n.leading dot\rbare cr\r\nlast"

    raw = render(make_email(body=body))

    assert body_of(raw) == b"first\r\n.\r\n..two dots\r\n.leading dot\r\nbare cr\r\nlast\r\n"
    expected = "first\n.\n..two dots\n.leading dot\nbare cr\nlast\n"
    assert text_of(raw) == expected


def test_ascii_body_with_short_lines_is_7bit() -> None:
    raw = render(make_email(body="plain\n" + "x" * 998))

    assert parse(raw)["Content-Transfer-Encoding"] == "7bit"
    assert b"x" * 998 + b"\r\n" in raw


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Grüße", id="non-ascii"),
        pytest.param("x" * 999, id="line-over-998-octets"),
        pytest.param("nul\0byte", id="nul"),
    ],
)
def test_body_that_7bit_cannot_carry_is_quoted_printable(body: str) -> None:
    raw = render(make_email(body=body))

    message = parse(raw)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(raw) == body + "\n"


def test_no_line_exceeds_998_octets_even_with_a_5000_character_line() -> None:
    body = "short\n" + "é" * 2500 + "y" * 2500 + "\n.\nend"

    raw = render(make_email(body=body))

    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert max(len(line) for line in body_of(raw).split(b"\r\n")) <= 76
    assert text_of(raw) == body + "\n"


def test_quoted_printable_keeps_dot_lines() -> None:
    body = "Grüße\n.\n.start"

    raw = render(make_email(body=body))

    assert parse(raw)["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(raw) == body + "\n"


def test_long_message_id_is_not_folded_or_encoded() -> None:
    message_id = "<" + "a" * 120 + "@example.org>"

    raw = render(make_email(message_id=message_id))

    assert f"Message-ID: {message_id}\r\n".encode() in raw


def test_rendering_is_deterministic() -> None:
    assert render(make_email(body="Grüße")) == render(make_email(body="Grüße"))


def lines_of(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r")
    return raw[:-2].split(b"\r\n")


def test_html_goes_as_multipart_alternative_after_the_text() -> None:
    raw = render(make_email(body="Grüße\n.\nplain", html="<p>Grüße</p>\n<p>.</p>"))

    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert message["MIME-Version"] == "1.0"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().replace("\r\n", "\n") == "Grüße\n.\nplain\n"
    assert html.get_content().replace("\r\n", "\n") == "<p>Grüße</p>\n<p>.</p>\n"
    assert message.get_body(("html",)) == html
    assert message["Subject"] == "Hello"


def test_attachments_go_as_multipart_mixed_and_arrive_byte_for_byte() -> None:
    pdf = bytes(range(256)) * 40
    attachments = (
        Attachment("invoice 2024.pdf", "application/pdf", pdf),
        Attachment('résumé "final".txt', "text/plain", "naïve\r\n".encode()),
        Attachment("empty.bin", "application/octet-stream", b""),
    )

    raw = render(make_email(html="<b>hi</b>", attachments=attachments))

    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    body, *files = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [
        ("invoice 2024.pdf", "application/pdf"),
        ('résumé "final".txt', "text/plain"),
        ("empty.bin", "application/octet-stream"),
    ]
    assert [f.get_payload(decode=True) for f in files] == [a.content for a in attachments]
    assert all(f.get_content_disposition() == "attachment" for f in files)
    assert message.defects == []


def test_attachments_without_html_follow_the_text() -> None:
    raw = render(make_email(attachments=(Attachment("a.csv", "text/csv", b"a,b\n1,2\n"),)))

    text, attachment = parse(raw).iter_parts()
    assert text.get_content_type() == "text/plain"
    assert attachment.get_filename() == "a.csv"


def test_a_multipart_message_keeps_every_line_within_998_octets() -> None:
    raw = render(
        make_email(
            body="x" * 5000,
            html="<p>" + "y" * 5000 + "</p>",
            attachments=(Attachment("big.bin", "application/octet-stream", b"\xff" * 100_000),),
        )
    )

    assert max(len(line) for line in lines_of(raw)) <= 998
    text, html = parse(raw).get_body(("plain",)), parse(raw).get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().rstrip() == "x" * 5000
    assert html.get_content().rstrip() == "<p>" + "y" * 5000 + "</p>"


def test_bcc_is_not_in_a_multipart_message_either() -> None:
    raw = render(make_email(html="<p>x</p>", bcc=("hidden@example.net",)))

    assert b"hidden@example.net" not in raw


def test_multipart_rendering_is_deterministic_and_boundaries_never_clash() -> None:
    first = make_email(html="<p>x</p>")
    boundary = parse(render(first)).get_boundary()
    assert boundary is not None
    clashing = make_email(body=f"--{boundary}\n--{boundary}--", html="<p>x</p>")

    assert render(first) == render(make_email(html="<p>x</p>"))
    message = parse(render(clashing))
    assert message.get_boundary() != boundary
    text = message.get_body(("plain",))
    assert text is not None
    assert text.get_content().replace("\r\n", "\n") == f"--{boundary}\n--{boundary}--\n"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="plain"),
        pytest.param({"subject": "Grüße " * 50, "body": "é" * 3000}, id="long-utf-8"),
        pytest.param(
            {"to_name": "Zoë " * 30, "cc": (Mailbox("c@example.com", "C" * 400),)}, id="names"
        ),
        pytest.param({"headers": (("X-Long", "v" * 900),)}, id="long-custom-header"),
        pytest.param({"html": "h" * 3000}, id="html"),
    ],
)
def test_no_line_is_longer_than_998_octets(changes: dict[str, Any]) -> None:
    assert max(len(line) for line in lines_of(render(make_email(**changes)))) <= 998
