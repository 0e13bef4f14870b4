from datetime import UTC, datetime

import pytest

from domain.errors import InvalidEmail
from domain.message import Email

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
