"""The real HTTP app in process (httpx ASGITransport), memory store, fake mailer."""

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from dependency_injector import providers

from adapters.memory import InMemoryTaskStore
from application.errors import StoreUnavailable
from domain.task import Task
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings
from tests.integration.app_client import app_client

HELLO = {"email": "user@example.com", "subject": "Hello", "body": "Test email"}


@pytest.fixture
def container() -> Container:
    return build_container(Settings(mailer="fake", max_request_bytes=4096))


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(container) as client:
        yield client


def stored(container: Container) -> int:
    store = container.store()
    assert isinstance(store, InMemoryTaskStore)
    return len(store)


async def test_an_accepted_email_answers_202_with_the_task_id_and_its_location(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/send-email", json=HELLO)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"task_id", "status"}
    assert body["status"] == "started"
    assert uuid.UUID(body["task_id"]).version == 4
    assert response.headers["location"] == f"/task/{body['task_id']}/status"


async def test_a_task_can_be_polled_right_after_it_was_accepted(client: httpx.AsyncClient) -> None:
    task_id = (await client.post("/send-email", json=HELLO)).json()["task_id"]
    response = await client.get(f"/task/{task_id}/status")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "task_id",
        "status",
        "result",
        "error",
        "created_at",
        "updated_at",
        "attempts",
    }
    assert (body["task_id"], body["status"], body["attempts"]) == (task_id, "pending", 0)
    assert (body["result"], body["error"]) == (None, None)
    assert body["created_at"].endswith("Z") or body["created_at"][-6] in "+-"


BAD_BODIES = [
    ({"subject": "Hello", "body": "x"}, "email"),
    ({"email": "user@example.com", "body": "x"}, "subject"),
    ({"email": "user@example.com", "subject": "Hello"}, "body"),
    ({**HELLO, "subject": 42}, "subject"),
    ({**HELLO, "body": 3.5}, "body"),
    ({**HELLO, "email": 7}, "email"),
    ({**HELLO, "email": ""}, "email"),
    ({**HELLO, "email": "not-an-address"}, "email"),
    ({**HELLO, "email": "user@"}, "email"),
    ({**HELLO, "email": "user@example.com\r\nBcc: victim@example.com"}, "email"),
    ({**HELLO, "subject": "Hi\r\nBcc: victim@example.com"}, "subject"),
    ({**HELLO, "subject": "Hi\nthere"}, "subject"),
    ({**HELLO, "subject": "nul\x00"}, "subject"),
    ({**HELLO, "surprise": True}, "surprise"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_BODIES)
async def test_bad_input_is_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, container: Container, payload: dict[str, object], field: str
) -> None:
    response = await client.post("/send-email", json=payload)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(error["loc"][-1] == field for error in detail), detail
    assert all("input" not in error for error in detail)
    assert stored(container) == 0


@pytest.mark.parametrize(
    "raw", [b"[1, 2]", b'"just a string"', b"null", b"{not json", b"", b"\xff\xfe"]
)
async def test_a_body_that_is_not_a_json_object_is_refused(
    client: httpx.AsyncClient, container: Container, raw: bytes
) -> None:
    response = await client.post(
        "/send-email", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 415, 422)
    assert "detail" in response.json()
    assert stored(container) == 0


async def test_a_body_over_the_limit_is_413_by_its_declared_length(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await client.post("/send-email", json={**HELLO, "body": "x" * 5000})
    assert response.status_code == 413
    assert "detail" in response.json()
    assert stored(container) == 0


async def test_a_streamed_body_over_the_limit_is_413_while_it_is_read(
    client: httpx.AsyncClient, container: Container
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield json.dumps(HELLO)[:-1].encode() + b', "pad": "'
        for _ in range(1000):
            sent += 1024
            yield b"x" * 1024
        yield b'"}'

    response = await client.post(
        "/send-email", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert stored(container) == 0


async def test_an_unknown_task_is_404_and_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"/task/{uuid.uuid4()}/status")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "task not found"}
    malformed = await client.get("/task/not-a-uuid/status")
    assert malformed.status_code == 422
    assert "detail" in malformed.json()


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


class UnavailableStore:
    async def add(self, task: Task) -> None:
        raise StoreUnavailable("redis down")

    async def get(self, task_id: str) -> Task:
        raise StoreUnavailable("redis down")

    async def summary(self, task_id: str) -> Task:
        raise StoreUnavailable("redis down")

    async def save(self, task: Task) -> None:
        raise StoreUnavailable("redis down")

    async def add_all(self, tasks: object, *, claim: object = None) -> None:
        raise StoreUnavailable("redis down")

    async def list_tasks(self, owner: object, **_: object) -> None:
        raise StoreUnavailable("redis down")


async def test_an_unreachable_store_is_503_with_retry_after(
    client: httpx.AsyncClient, container: Container
) -> None:
    with container.store.override(providers.Object(UnavailableStore())):
        post = await client.post("/send-email", json=HELLO)
        get = await client.get(f"/task/{uuid.uuid4()}/status")
    for response in (post, get):
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert "detail" in response.json()


async def test_a_full_memory_store_is_503_saying_so_and_stores_nothing() -> None:
    container = build_container(Settings(mailer="fake", memory_max_tasks=1))
    async with app_client(container) as client:
        first = await client.post("/send-email", json=HELLO)
        refused = await client.post("/send-email", json=HELLO)
    assert first.status_code == 202
    assert refused.status_code == 503
    assert refused.json() == {"detail": "task store full, retry later"}
    assert int(refused.headers["retry-after"]) > 0
    assert stored(container) == 1
