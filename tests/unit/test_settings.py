import pytest
from pydantic import ValidationError

from entrypoints.settings import Settings


@pytest.mark.parametrize(
    "mail_from",
    ["notanaddress", "Jörg <jorg@example.com>", "a@example.com\r\nBcc: x@example.com", ""],
)
def test_a_mail_from_that_is_not_one_bare_address_stops_the_service(mail_from: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(mail_from=mail_from)
    assert raised.value.errors()[0]["loc"] == ("mail_from",)


def test_the_default_mail_from_is_valid() -> None:
    assert Settings().mail_from == "mailroom@localhost"
