"""API keys, idempotency keys, batch send, listing and retry through the real HTTP app (in
process, httpx ASGITransport, lifespan and delivery workers running), on both stores."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from adapters.fake_mailer import FakeMailer
from application.errors import PermanentDeliveryError
from application.start_email_batch import InvalidBatchMessage
from domain.errors import InvalidEmail
from entrypoints.api.errors import install_error_handlers
from entrypoints.api.keys import key_hash
from entrypoints.app import create_app
from entrypoints.container import Container, build_container, provide
from entrypoints.settings import Settings
from tests.integration.store_helpers import count_round_trips

BILLING_KEY = "billing-key-Zr4pQ2"
REPORTS_KEY = "reports-key-8sLmW1"
API_KEYS = f"billing:{key_hash(BILLING_KEY)},reports:{key_hash(REPORTS_KEY)}"
BILLING = {"Authorization": f"Bearer {BILLING_KEY}"}
REPORTS = {"Authorization": f"Bearer {REPORTS_KEY}"}


def message(n: int = 0, **changes: object) -> dict[str, object]:
    return {"email": f"user{n}@example.com", "subject": f"Hello {n}", "body": "Hi", **changes}


@dataclass
class Service:
    client: httpx.AsyncClient
    container: Container
    mailer: FakeMailer

    async def send(self, headers: dict[str, str], **changes: object) -> str:
        response = await self.client.post("/send-email", json=message(**changes), headers=headers)
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    async def status(self, task_id: str, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get(f"/task/{task_id}/status", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_for(self, task_id: str, status: str, headers: dict[str, str]) -> None:
        await eventually(lambda: self.status(task_id, headers), lambda s: s["status"] == status)

    async def listed(self, headers: dict[str, str], query: str = "") -> list[str]:
        response = await self.client.get(f"/tasks?limit=500{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [task["task_id"] for task in response.json()["tasks"]]


async def eventually(
    read: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 15.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        await asyncio.sleep(0.02)


def settings_for(request: pytest.FixtureRequest, **changes: object) -> Settings:
    base: dict[str, Any] = {"mailer": "fake", "api_keys": API_KEYS, "max_attempts": 1}
    if request.param == "redis":
        base |= {
            "store": "redis",
            "redis_url": request.getfixturevalue("redis_url"),
            "key_prefix": f"api-{uuid.uuid4().hex[:8]}:",
        }
    return Settings(**(base | changes))


async def running(settings: Settings, *, workers: bool = True) -> AsyncIterator[Service]:
    container = build_container(settings)
    app = create_app(settings, container=container, run_workers=workers)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mailroom.test"
        ) as client:
            mailer = await provide(container.mailer)
            assert isinstance(mailer, FakeMailer)
            yield Service(client, container, mailer)


@pytest.fixture(params=["memory", "redis"])
async def service(request: pytest.FixtureRequest) -> AsyncIterator[Service]:
    async for running_service in running(settings_for(request)):
        yield running_service


PROTECTED = [
    ("POST", "/send-email", message()),
    ("POST", "/send-email/batch", {"messages": [message()]}),
    ("GET", "/tasks", None),
    ("GET", f"/task/{uuid.uuid4()}/status", None),
    ("POST", f"/task/{uuid.uuid4()}/retry", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="mailroom"'),
        ("Bearer", 'Bearer realm="mailroom"'),
        (f"Basic {BILLING_KEY}", 'Bearer realm="mailroom"'),
        ("Bearer not-a-key", 'Bearer realm="mailroom", error="invalid_token"'),
        (f"Bearer {key_hash(BILLING_KEY)}", 'Bearer realm="mailroom", error="invalid_token"'),
    ],
    ids=["none", "empty", "basic", "wrong", "hash"],
)
async def test_a_request_without_a_valid_key_is_401_and_changes_nothing(
    service: Service,
    method: str,
    path: str,
    body: object,
    authorization: str | None,
    challenge: str,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await service.client.request(method, path, json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert isinstance(response.json()["detail"], str)
    assert await service.listed(BILLING) == []


async def test_health_needs_no_key(service: Service) -> None:
    assert (await service.client.get("/healthz")).status_code == 200


async def test_another_keys_task_is_404_and_never_listed(service: Service) -> None:
    task_id = await service.send(BILLING)
    unknown = await service.client.get(f"/task/{uuid.uuid4()}/status", headers=REPORTS)

    foreign = await service.client.get(f"/task/{task_id}/status", headers=REPORTS)
    retry = await service.client.post(f"/task/{task_id}/retry", headers=REPORTS)

    assert (foreign.status_code, foreign.json()) == (404, unknown.json())
    assert retry.status_code == 404
    assert await service.listed(REPORTS) == []
    assert await service.listed(BILLING) == [task_id]


async def test_responses_name_no_owner_and_no_key(service: Service) -> None:
    task_id = await service.send(BILLING)
    texts = [
        (await service.client.get(f"/task/{task_id}/status", headers=BILLING)).text,
        (await service.client.get("/tasks", headers=BILLING)).text,
    ]
    for text in texts:
        assert "billing" not in text
        assert "owner" not in text
        assert BILLING_KEY not in text


async def test_keys_never_reach_the_logs(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    task_id = await service.send(BILLING)
    await service.wait_for(task_id, "completed", BILLING)
    await service.client.get("/tasks", headers={"Authorization": "Bearer wrong-secret-value"})

    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert BILLING_KEY not in logged
    assert "wrong-secret-value" not in logged
    assert key_hash(BILLING_KEY) not in logged


async def test_the_list_pages_through_the_callers_tasks_newest_first(service: Service) -> None:
    batch = {"messages": [message(n) for n in range(5)]}
    response = await service.client.post("/send-email/batch", json=batch, headers=BILLING)
    ids = [task["task_id"] for task in response.json()["tasks"]]
    latest = await service.send(BILLING)
    await service.send(REPORTS)

    pages, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await service.client.get("/tasks", params=query, headers=BILLING)
        assert response.status_code == 200
        body = response.json()
        pages.append([task["task_id"] for task in body["tasks"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    listed = [task_id for page in pages for task_id in page]
    assert listed[0] == latest
    assert sorted(listed[1:]) == sorted(ids)
    assert [len(page) for page in pages] == [2, 2, 2]
    status = await service.status(latest, BILLING)
    [entry] = (await service.client.get("/tasks?limit=1", headers=BILLING)).json()["tasks"]
    assert set(entry) == set(status)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("status=lost", "status"),
        ("cursor=bm9wZQ", "cursor"),
        ("cursor=12.a%21", "cursor"),
        ("sort=oldest", "sort"),
    ],
)
async def test_bad_list_parameters_are_422_naming_them(
    service: Service, query: str, name: str
) -> None:
    response = await service.client.get(f"/tasks?{query}", headers=BILLING)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", name]


async def test_the_same_idempotency_key_and_body_gives_the_same_task_and_one_email(
    service: Service,
) -> None:
    headers = BILLING | {"Idempotency-Key": '"order-17"'}
    first = await service.client.post("/send-email", json=message(), headers=headers)
    await service.wait_for(first.json()["task_id"], "completed", BILLING)
    # The same body reordered, and the key sent bare: the same request.
    reordered = dict(reversed(list(message().items())))
    again = await service.client.post(
        "/send-email", json=reordered, headers=BILLING | {"Idempotency-Key": "order-17"}
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await service.listed(BILLING) == [first.json()["task_id"]]
    await asyncio.sleep(0.2)
    assert len(service.mailer.attempts) == 1


async def test_the_same_idempotency_key_with_another_body_is_422(service: Service) -> None:
    headers = BILLING | {"Idempotency-Key": "order-18"}
    await service.client.post("/send-email", json=message(1), headers=headers)

    other = await service.client.post("/send-email", json=message(2), headers=headers)
    as_batch = await service.client.post(
        "/send-email/batch", json={"messages": [message(1)]}, headers=headers
    )

    for response in (other, as_batch):
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert len(await service.listed(BILLING)) == 1


async def test_idempotency_keys_are_scoped_to_the_api_key(service: Service) -> None:
    headers = {"Idempotency-Key": "shared"}
    billing = await service.client.post("/send-email", json=message(), headers=BILLING | headers)
    reports = await service.client.post("/send-email", json=message(), headers=REPORTS | headers)

    assert billing.json()["task_id"] != reports.json()["task_id"]
    assert "idempotent-replayed" not in reports.headers


@pytest.mark.parametrize("key", ['"unterminated', "", "has space", "x" * 256, '"\\q"'])
async def test_a_malformed_idempotency_key_is_422(service: Service, key: str) -> None:
    response = await service.client.post(
        "/send-email", json=message(), headers=BILLING | {"Idempotency-Key": key}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await service.listed(BILLING) == []


async def test_twenty_simultaneous_requests_with_one_key_make_one_task_and_one_email(
    service: Service,
) -> None:
    headers = BILLING | {"Idempotency-Key": str(uuid.uuid4())}

    responses = await asyncio.gather(
        *(service.client.post("/send-email", json=message(), headers=headers) for _ in range(20))
    )

    assert {response.status_code for response in responses} == {202}
    [task_id] = {response.json()["task_id"] for response in responses}
    assert sum("idempotent-replayed" in response.headers for response in responses) == 19
    await service.wait_for(task_id, "completed", BILLING)
    await asyncio.sleep(0.2)
    assert [email.message_id for email in service.mailer.attempts] == [f"<{task_id}@localhost>"]
    assert await service.listed(BILLING) == [task_id]


async def test_a_batch_is_accepted_in_request_order_and_delivered(service: Service) -> None:
    batch = {"messages": [message(n) for n in range(3)]}

    response = await service.client.post("/send-email/batch", json=batch, headers=BILLING)

    assert response.status_code == 202
    tasks = response.json()["tasks"]
    assert [task["status"] for task in tasks] == ["started"] * 3
    for task in tasks:
        await service.wait_for(task["task_id"], "completed", BILLING)
    by_id = {email.message_id: email.to for email in service.mailer.sent}
    assert [by_id[f"<{task['task_id']}@localhost>"] for task in tasks] == [
        f"user{n}@example.com" for n in range(3)
    ]


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        ({"email": "not-an-address"}, ["body", "messages", 3, "email"]),
        ({"subject": "a\r\nBcc: x@y.z"}, ["body", "messages", 3, "subject"]),
        ({"surprise": 1}, ["body", "messages", 3, "surprise"]),
    ],
)
async def test_one_invalid_message_refuses_the_whole_batch(
    service: Service, bad: dict[str, object], loc: list[object]
) -> None:
    messages = [message(n) for n in range(5)]
    messages[3] = message(3, **bad)

    response = await service.client.post(
        "/send-email/batch", json={"messages": messages}, headers=BILLING
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    await asyncio.sleep(0.2)
    assert await service.listed(BILLING) == []
    assert service.mailer.attempts == []


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"messages": [message()] * 501}, {"messages": message()}, {}],
    ids=["empty", "501", "not-a-list", "missing"],
)
async def test_a_batch_that_is_not_1_to_500_messages_is_422(
    service: Service, body: dict[str, object]
) -> None:
    response = await service.client.post("/send-email/batch", json=body, headers=BILLING)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "messages"]
    assert await service.listed(BILLING) == []


async def test_a_failed_task_is_in_the_dead_letter_list_and_can_be_retried(
    service: Service,
) -> None:
    service.mailer.fail_next(PermanentDeliveryError("550 5.1.1 no such user", code=550))
    task_id = await service.send(BILLING)
    await service.wait_for(task_id, "failed", BILLING)
    assert await service.listed(BILLING, "&status=failed") == [task_id]

    response = await service.client.post(f"/task/{task_id}/retry", headers=BILLING)

    assert response.status_code == 202
    assert response.headers["location"] == f"/task/{task_id}/status"
    body = response.json()
    assert (body["status"], body["attempts"]) == ("pending", 0)
    await service.wait_for(task_id, "completed", BILLING)
    done = await service.status(task_id, BILLING)
    assert (done["attempts"], done["result"]["requeued_after_attempts"]) == (1, [1])
    assert await service.listed(BILLING, "&status=failed") == []
    assert len(service.mailer.sent) == 1


async def test_only_a_failed_task_can_be_retried(service: Service) -> None:
    task_id = await service.send(BILLING)
    await service.wait_for(task_id, "completed", BILLING)

    response = await service.client.post(f"/task/{task_id}/retry", headers=BILLING)
    missing = await service.client.post(f"/task/{uuid.uuid4()}/retry", headers=BILLING)

    assert response.status_code == 409
    assert "detail" in response.json()
    assert missing.status_code == 404


@pytest.fixture(params=["memory", "redis"])
async def open_service(request: pytest.FixtureRequest) -> AsyncIterator[Service]:
    async for running_service in running(settings_for(request, api_keys="")):
        yield running_service


async def test_without_keys_the_api_is_open_and_tasks_have_no_owner(
    open_service: Service,
) -> None:
    task_id = await open_service.send({})
    with_header = await open_service.send({"Authorization": "Bearer anything"})

    assert set(await open_service.listed({})) == {task_id, with_header}
    assert (await open_service.status(task_id, {}))["task_id"] == task_id


@pytest.fixture(params=["redis"])
async def api_only(request: pytest.FixtureRequest) -> AsyncIterator[Service]:
    async for running_service in running(settings_for(request), workers=False):
        yield running_service


async def test_a_redis_batch_is_stored_and_queued_in_one_round_trip(
    api_only: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await provide(api_only.container.redis_client)
    assert isinstance(client, Redis)
    await api_only.send(BILLING)  # loads the script
    sent = count_round_trips(client, monkeypatch)
    batch = {"messages": [message(n) for n in range(500)]}

    response = await api_only.client.post("/send-email/batch", json=batch, headers=BILLING)

    assert response.status_code == 202
    assert sent == [["EVALSHA"]]
    monkeypatch.undo()
    settings = api_only.container.settings()
    assert await client.xlen(f"{settings.key_prefix}queue") == 501


async def test_each_app_checks_keys_against_its_own_settings() -> None:
    keyed = create_app(Settings(mailer="fake", api_keys=API_KEYS), run_workers=False)
    create_app(Settings(mailer="fake"), run_workers=False)  # wired later, open

    transport = httpx.ASGITransport(app=keyed)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailroom.test") as client:
        anonymous = await client.get("/tasks")
        billing = await client.get("/tasks", headers=BILLING)

    assert (anonymous.status_code, billing.status_code) == (401, 200)


async def test_an_email_invariant_broken_in_a_batch_names_the_message() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/batch")
    async def batch() -> None:
        raise InvalidBatchMessage(3, InvalidEmail("subject", "must not contain control characters"))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailroom.test") as client:
        response = await client.post("/batch")

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "messages", 3, "subject"],
            "msg": "must not contain control characters",
            "type": "value_error",
        }
    ]
