"""``POST /send-email``'s optional fields through the real HTTP app in process: each is validated
(422 naming the field, nothing stored) and reaches the stored email as submitted."""

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.memory import InMemoryTaskStore
from domain.message import Attachment, Email, Mailbox
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings
from tests.integration.app_client import app_client

HELLO = {"email": "user@example.com", "subject": "Hello", "body": "Test email"}
PDF = b"%PDF-1.4\n\x00\xff"


@pytest.fixture
def container() -> Container:
    return build_container(Settings(mailer="fake", max_request_bytes=8192))


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(container) as client:
        yield client


def memory_store(container: Container) -> InMemoryTaskStore:
    store = container.store()
    assert isinstance(store, InMemoryTaskStore)
    return store


async def accepted_email(
    client: httpx.AsyncClient, container: Container, payload: dict[str, Any]
) -> Email:
    response = await client.post("/send-email", json=payload)
    assert response.status_code == 202, response.text
    task = await memory_store(container).get(response.json()["task_id"])
    return task.email


def attachment(**changes: object) -> dict[str, object]:
    return {
        "filename": "invoice.pdf",
        "content_type": "application/pdf",
        "content": base64.b64encode(PDF).decode(),
        **changes,
    }


async def test_a_rich_email_is_stored_as_submitted(
    client: httpx.AsyncClient, container: Container
) -> None:
    payload = {
        **HELLO,
        "email": "Jörg Müller <jorg@Example.COM>",
        "cc": ['"Doe, Ann" <ann@example.com>', "bob@bücher.example"],
        "bcc": ["hidden@example.net", "Name Ignored <secret@example.org>"],
        "reply_to": "Support <support@example.com>",
        "html": "<p>Hello</p>",
        "attachments": [attachment()],
        "headers": {"X-Campaign": "spring ☃", "In-Reply-To": "<parent@example.org>"},
    }

    email = await accepted_email(client, container, payload)

    assert (email.to, email.to_name) == ("jorg@example.com", "Jörg Müller")
    assert email.cc == (Mailbox("ann@example.com", "Doe, Ann"), Mailbox("bob@bücher.example"))
    assert email.bcc == ("hidden@example.net", "secret@example.org")
    assert email.reply_to == Mailbox("support@example.com", "Support")
    assert email.html == "<p>Hello</p>"
    assert email.attachments == (Attachment("invoice.pdf", "application/pdf", PDF),)
    assert email.headers == (("X-Campaign", "spring ☃"), ("In-Reply-To", "<parent@example.org>"))


async def test_a_plain_request_and_nulls_keep_their_old_meaning(
    client: httpx.AsyncClient, container: Container
) -> None:
    plain = await accepted_email(client, container, HELLO)
    nulls = {name: None for name in ("cc", "bcc", "reply_to", "html", "attachments", "headers")}
    with_nulls = await accepted_email(client, container, {**HELLO, **nulls})

    for email in (plain, with_nulls):
        assert (email.to, email.to_name, email.cc, email.bcc) == ("user@example.com", "", (), ())
        assert (email.reply_to, email.html, email.attachments, email.headers) == (
            None,
            None,
            (),
            (),
        )


async def test_fifty_recipients_are_accepted(
    client: httpx.AsyncClient, container: Container
) -> None:
    cc = [f"cc{i}@example.com" for i in range(25)]
    bcc = [f"bcc{i}@example.com" for i in range(24)]

    email = await accepted_email(client, container, {**HELLO, "cc": cc, "bcc": bcc})

    assert len(email.recipients) == 50


BAD = [
    ({"cc": "ann@example.com"}, "cc"),
    ({"cc": ["not-an-address"]}, "cc"),
    ({"cc": [7]}, "cc"),
    ({"cc": ["ann@example.com\r\nBcc: victim@example.com"]}, "cc"),
    ({"cc": [f"cc{i}@example.com" for i in range(50)]}, "cc"),
    (
        {
            "cc": [f"cc{i}@example.com" for i in range(25)],
            "bcc": [f"bcc{i}@example.com" for i in range(25)],
        },
        "bcc",
    ),
    ({"bcc": ["user@"]}, "bcc"),
    ({"bcc": [""]}, "bcc"),
    ({"reply_to": "nobody"}, "reply_to"),
    ({"reply_to": ["support@example.com"]}, "reply_to"),
    ({"email": "Name <not-an-address>"}, "email"),
    ({"email": "Evil\r\nBcc: x@example.com <user@example.com>"}, "email"),
    ({"html": 42}, "html"),
    ({"attachments": attachment()}, "attachments"),
    ({"attachments": [attachment(content="not base64!")]}, "content"),
    ({"attachments": [attachment(content="QUJD\nREVG")]}, "content"),
    ({"attachments": [attachment(content="QR==")]}, "content"),
    ({"attachments": [attachment(content=123)]}, "content"),
    ({"attachments": [attachment(content_type="pdf")]}, "content_type"),
    ({"attachments": [attachment(content_type="text/plain; charset=utf-8")]}, "content_type"),
    ({"attachments": [attachment(content_type="multipart/mixed")]}, "content_type"),
    ({"attachments": [attachment(filename="../etc/passwd")]}, "filename"),
    ({"attachments": [attachment(filename="bad\nname.pdf")]}, "filename"),
    ({"attachments": [attachment(filename="")]}, "filename"),
    ({"attachments": [attachment(extra=True)]}, "extra"),
    ({"attachments": [{"filename": "a.txt", "content_type": "text/plain"}]}, "content"),
    ({"headers": ["X-Tag", "v"]}, "headers"),
    ({"headers": {"Subject": "override"}}, "headers"),
    ({"headers": {"From": "evil@example.com"}}, "headers"),
    ({"headers": {"Bcc": "x@example.com"}}, "headers"),
    ({"headers": {"Content-Type": "text/html"}}, "headers"),
    ({"headers": {"X-Bad Name": "v"}}, "headers"),
    ({"headers": {"X-Tag": "a\r\nBcc: victim@example.com"}}, "headers"),
    ({"headers": {"X-Tag": 1}}, "headers"),
    ({"headers": {"in-reply-to": "<parent@example.org>"}}, "headers"),
    ({"headers": {"References": "<ümlaut@example.org>"}}, "headers"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
async def test_a_bad_optional_field_is_422_naming_it_and_stores_nothing(
    client: httpx.AsyncClient, container: Container, changes: dict[str, object], field: str
) -> None:
    response = await client.post("/send-email", json={**HELLO, **changes})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(field in error["loc"] for error in detail), detail
    assert all("input" not in error for error in detail)
    assert len(memory_store(container)) == 0


@pytest.mark.parametrize("field", ["body", "html", "subject"])
async def test_text_with_a_lone_surrogate_is_refused(
    client: httpx.AsyncClient, container: Container, field: str
) -> None:
    raw = json.dumps({**HELLO, field: "x"}).replace('"x"', '"bad \\ud800"')

    response = await client.post(
        "/send-email", content=raw, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert len(memory_store(container)) == 0


async def test_attachments_count_against_the_request_size_limit(
    client: httpx.AsyncClient, container: Container
) -> None:
    big = base64.b64encode(b"\0" * 7000).decode()  # 9336 base64 characters: over 8192 bytes

    response = await client.post(
        "/send-email", json={**HELLO, "attachments": [attachment(content=big)]}
    )

    assert response.status_code == 413
    assert len(memory_store(container)) == 0


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(count)]


@pytest.mark.parametrize(
    ("recipients", "field"),
    [
        ({"cc": addresses("cc", 50)}, "cc"),
        ({"bcc": addresses("bcc", 50)}, "bcc"),
        ({"cc": addresses("cc", 25), "bcc": addresses("bcc", 25)}, "bcc"),
        ({"cc": addresses("cc", 10), "bcc": addresses("bcc", 60)}, "bcc"),
    ],
)
async def test_too_many_recipients_are_refused_with_the_total_rule(
    client: httpx.AsyncClient, recipients: dict[str, list[str]], field: str
) -> None:
    response = await client.post("/send-email", json={**HELLO, **recipients})

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert error["msg"] == (
        "Value error, at most 50 recipients are allowed in total across email, cc and bcc"
    )


async def test_an_oversized_cc_list_is_refused_by_its_count_before_its_addresses_are_read(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await client.post("/send-email", json={**HELLO, "cc": ["not-an-address"] * 300})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "cc"]]
    assert len(memory_store(container)) == 0


async def test_the_openapi_document_states_the_total_rule_for_cc_and_bcc(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    fields = schema["SendEmailRequest"]["properties"]

    for name in ("cc", "bcc"):
        description = fields[name]["description"]
        assert "At most 50 recipients in total across email, cc and bcc." in description
        (as_list,) = [choice for choice in fields[name]["anyOf"] if choice["type"] == "array"]
        assert as_list["maxItems"] == 49
