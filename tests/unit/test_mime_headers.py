"""Header fields as a reader parses them (``email.policy.default``): addresses and display names,
Cc and never Bcc, custom headers, folding, encoded-words, IDNA and SMTPUTF8 forms."""

import email
import email.policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest

from adapters.mime import render
from adapters.mime_headers import MAX_LINE_CHARS, encoded_words, text_field
from domain.message import Mailbox
from tests.unit.test_mime import make_email


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def head_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def rendered(**changes: Any) -> tuple[bytes, EmailMessage]:
    raw = render(make_email(**changes))
    return raw, parse(raw)


@pytest.mark.parametrize(
    "name",
    [
        "Ann Example",
        "Doe, John",
        'Say "hi"',
        "back\\slash",
        "Jörg Müller",
        "李小龍",
        "John Q. Public",
        "=?utf-8?q?looks_encoded?=",
        " spaced out ",
        "a" * 150,
        "María José Fernández García de la Peña y Rodríguez-Núñez",
        "Dr. Zoë O'Brien (CEO), Ünïcödé Ltd.",
        "Ünïcödé",
        "東京都千代田区の山田太郎",
    ],
)
def test_display_names_arrive_as_given(name: str) -> None:
    raw, message = rendered(to_name=name, cc=(Mailbox("cc@example.com", name),))

    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "user@example.com")
    [cc] = message["Cc"].addresses
    assert (cc.display_name, cc.addr_spec) == (name, "cc@example.com")
    assert head_of(raw).isascii()
    assert message.defects == []


def test_a_long_run_of_encoded_text_decodes_exactly_per_rfc_2047() -> None:
    name = "Ünïcödé-Ünïcödé-Ünïcödé-Ünïcödé-Ünïcödé"  # one word, over one encoded-word

    raw, message = rendered(to_name=name)

    phrase = str(message["To"]).rsplit(" <", 1)[0]  # the parser's text: its join adds a space
    to_line = head_of(raw).split(b"\r\nTo: ", 1)[1].split(b" <", 1)[0].decode()
    assert to_line.count("=?utf-8?b?") == 2
    assert str(make_header(decode_header(to_line))) == name
    assert phrase.replace(" ", "") == name


def test_cc_lists_every_mailbox_and_bcc_is_never_written() -> None:
    cc = tuple(Mailbox(f"cc{i}@example.com", f"Person {i}") for i in range(30))

    raw, message = rendered(cc=cc, bcc=("hidden@example.net", "secret@example.org"))

    assert [a.addr_spec for a in message["Cc"].addresses] == [m.address for m in cc]
    assert b"hidden@example.net" not in raw
    assert b"secret@example.org" not in raw
    assert "Bcc" not in message
    assert max(len(line) for line in head_of(raw).split(b"\r\n")) <= MAX_LINE_CHARS


def test_reply_to_is_written() -> None:
    _, message = rendered(reply_to=Mailbox("support@example.com", "Support Désk"))

    [reply_to] = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Support Désk", "support@example.com")


@pytest.mark.parametrize(
    "subject",
    [
        "Hello",
        "",
        "   ",
        " leading and trailing ",
        "two  spaces",
        "=?utf-8?q?not_an_encoded_word?=",
        "word " * 40,
        "x" * 300,
        "Grüße — 你好 " * 30,
        "emoji 📬 and combining e\u0301",
    ],
)
def test_subjects_arrive_exactly_and_lines_stay_short(subject: str) -> None:
    raw, message = rendered(subject=subject)

    assert message["Subject"] == subject
    assert head_of(raw).isascii()
    assert max(len(line) for line in head_of(raw).split(b"\r\n")) <= MAX_LINE_CHARS


def test_a_short_ascii_subject_is_written_literally() -> None:
    raw, _ = rendered(subject="Your order #1234 has shipped")

    assert b"\r\nSubject: Your order #1234 has shipped\r\n" in raw


def test_encoded_words_never_split_a_character() -> None:
    text = "é" * 100 + "📬" * 50

    words = encoded_words(text)

    assert all(len(word) <= 75 for word in words)  # RFC 2047 §2
    assert parse(f"{text_field('Subject', text)}\r\n\r\n".encode())["Subject"] == text


def test_custom_headers_are_written_after_the_standard_ones() -> None:
    references = " ".join(f"<{'a' * 70}.{i}@mail.example.org>" for i in range(8))
    headers = (
        ("X-Campaign", "spring ☃ sale"),
        ("x-lower-case", "kept"),
        ("References", references),
        ("In-Reply-To", "<parent@example.org>"),
    )

    raw, message = rendered(headers=headers)

    assert message["X-Campaign"] == "spring ☃ sale"
    assert message["x-lower-case"] == "kept"
    assert message["In-Reply-To"] == "<parent@example.org>"
    # Message ids are folded between ids, never encoded.
    assert b"=?" not in raw.split(b"References:", 1)[1].split(b"\r\nIn-Reply-To", 1)[0]
    assert " ".join(str(message["References"]).split()) == references
    names = [name.lower() for name in message]
    assert names.index("message-id") < names.index("x-campaign") < names.index("mime-version")
    assert max(len(line) for line in head_of(raw).split(b"\r\n")) <= 998


def test_an_international_domain_goes_out_as_idna() -> None:
    raw, message = rendered(to="user@bücher.example", cc=(Mailbox("a@straße.de", "Straße"),))

    assert head_of(raw).isascii()
    assert message["To"].addresses[0].addr_spec == "user@xn--bcher-kva.example"
    assert message["Cc"].addresses[0].addr_spec == "a@xn--strae-oqa.de"


def test_a_non_ascii_local_part_makes_utf8_headers() -> None:
    email_ = make_email(to="jörg@bücher.example", to_name="Jörg")

    raw = render(email_)
    message = email.message_from_string(raw.decode(), policy=email.policy.SMTPUTF8)

    assert email_.needs_smtputf8
    assert "<jörg@bücher.example>\r\n".encode() in raw  # UTF-8 (RFC 6532 §3.2)
    assert message["To"].addresses[0].addr_spec == "jörg@bücher.example"
    assert message["To"].addresses[0].display_name == "Jörg"


def test_an_ascii_message_does_not_need_smtputf8() -> None:
    assert not make_email(to="user@bücher.example").needs_smtputf8
    assert make_email(bcc=("jörg@example.com",)).needs_smtputf8


def test_from_is_the_sender() -> None:
    _, message = rendered()

    assert message["From"].addresses[0].addr_spec == "mailroom@example.org"


def test_headers_render_the_same_for_the_same_email() -> None:
    fields: dict[str, Any] = {"cc": (Mailbox("c@example.com", "Ç"),), "subject": "Grüße " * 20}

    assert render(make_email(**fields)) == render(make_email(**fields))
