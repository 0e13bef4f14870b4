"""The command-line pieces ``adapters.smtp_transfer`` writes itself: dot-stuffing of the message
data (RFC 5321 §4.5.2) and the quoted addresses of MAIL and RCPT, each checked against the
straightforward form it replaced (a multi-line regular expression; aiosmtplib's
``quote_address``)."""

import re

import pytest
from aiosmtplib.email import quote_address
from hypothesis import given
from hypothesis import strategies as st

from adapters.smtp_transfer import _quoted, dot_stuffed

LINE_START_DOT = re.compile(rb"(?m)^\.")


@pytest.mark.parametrize(
    ("content", "stuffed"),
    [
        (b"", b""),
        (b".", b".."),
        (b".\r\n", b"..\r\n"),
        (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n"),
        (b"..two\r\n", b"...two\r\n"),
        (b"a.b\r\n. x\r\n", b"a.b\r\n.. x\r\n"),
        (b"bare\n.lf\r.cr\r\n", b"bare\n..lf\r.cr\r\n"),
    ],
)
def test_a_dot_at_the_start_of_a_line_is_doubled(content: bytes, stuffed: bytes) -> None:
    assert dot_stuffed(content) == stuffed


@given(st.lists(st.sampled_from([b".", b"\r\n", b"\n", b"\r", b"x", b".."]), max_size=40))
def test_dot_stuffing_matches_the_multiline_expression(pieces: list[bytes]) -> None:
    content = b"".join(pieces)

    assert dot_stuffed(content) == LINE_START_DOT.sub(b"..", content)


@pytest.mark.parametrize(
    "address",
    [
        "user@example.com",
        '"john doe"@example.com',
        "bücher@bücher.example",
        "Ann <ann@example.com>",
        "user@example.com> SIZE=1",
    ],
)
def test_addresses_are_quoted_as_aiosmtplib_quotes_them(address: str) -> None:
    assert _quoted(address) == quote_address(address)
    assert _quoted(address) == quote_address(address)  # and again, from the cache


@pytest.mark.parametrize("address", ["a\tb@example.com", "x y@example.com"])
def test_an_address_that_could_end_the_command_is_refused_every_time(address: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="not permitted"):
            _quoted(address)
