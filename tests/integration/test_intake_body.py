"""``POST /send-email`` reads its body itself (``entrypoints.api.body``): every answer to a bad
body or header must be the one FastAPI's own body parameter gives, and nothing is stored."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Response

from entrypoints.api.errors import install_error_handlers
from entrypoints.api.schemas import SendEmailRequest
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings
from tests.integration.app_client import app_client

GOOD = {"email": "user@example.com", "subject": "Hello", "body": "Test email"}


def reference_app() -> FastAPI:
    """The same request model as a FastAPI body parameter, with Mailroom's error answers."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/send-email", status_code=202)
    async def send_email(request: SendEmailRequest) -> Response:
        return Response(status_code=202)

    return app


@pytest.fixture
def container() -> Container:
    return build_container(Settings(mailer="fake"))


@pytest.fixture
async def mailroom(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(container) as client:
        yield client


@pytest.fixture
async def reference() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reference_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://reference.test") as client:
        yield client


BODIES = [
    b"",
    b"{not json",
    b'{"email": "user@example.com",}',
    b"\xff\xfe\x00",
    b"[1, 2]",
    b"null",
    b'"just a string"',
    b"{}",
    b'{"email": 5, "subject": [], "body": null}',
    json.dumps({**GOOD, "email": "not an address"}).encode(),
    json.dumps({**GOOD, "subject": "line\r\nBcc: x@example.com"}).encode(),
    json.dumps({**GOOD, "unknown": 1}).encode(),
    json.dumps({**GOOD, "cc": ["a@example.com", "nope"]}).encode(),
    json.dumps({**GOOD, "body": "\ud800"}).encode("utf-8", "surrogatepass"),
    b'{"email": "user@example.com", "subject": "Hello", "body": NaN}',
    json.dumps(GOOD).encode("utf-16"),  # json.loads reads UTF-16; both must agree
    json.dumps({**GOOD, "subject": "Grüße ✉"}, ensure_ascii=False).encode(),
    b'{"email": "a@example.com", "email": "user@example.com", "subject": "s", "body": "b"}',
]


@pytest.mark.parametrize("raw", BODIES)
async def test_every_body_gets_fastapis_answer(
    mailroom: httpx.AsyncClient, reference: httpx.AsyncClient, container: Container, raw: bytes
) -> None:
    headers = {"content-type": "application/json"}

    ours = await mailroom.post("/send-email", content=raw, headers=headers)
    theirs = await reference.post("/send-email", content=raw, headers=headers)

    assert ours.status_code == theirs.status_code
    if theirs.status_code != 202:
        assert ours.json() == theirs.json()
        assert len(container.store()._tasks) == 0  # type: ignore[attr-defined]


async def test_an_idempotency_key_given_twice_is_422_and_stores_nothing(
    mailroom: httpx.AsyncClient, container: Container
) -> None:
    headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "first"),
        ("idempotency-key", "second"),
    ]

    response = await mailroom.post("/send-email", content=json.dumps(GOOD), headers=headers)
    batch = await mailroom.post(
        "/send-email/batch", content=json.dumps({"messages": [GOOD]}), headers=headers
    )

    for answer in (response, batch):
        assert answer.status_code == 422
        [error] = answer.json()["detail"]
        assert error["loc"] == ["header", "Idempotency-Key"]
        assert error["msg"] == "must be given once"
    assert len(container.store()._tasks) == 0  # type: ignore[attr-defined]
