"""Health, readiness, JSON-only bodies, request ids and the rate limit, on the real app in process
(httpx ASGITransport); readiness and the shared rate limit against a real Redis."""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from adapters.memory import InMemoryTaskStore
from entrypoints.api.keys import key_hash, new_key
from entrypoints.app import create_app
from entrypoints.container import Container, build_container, resources_open
from entrypoints.settings import Settings

HELLO = {"email": "user@example.com", "subject": "Hello", "body": "Test email"}


@asynccontextmanager
async def api(**settings: object) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    """The API (no workers) of a container built from ``Settings(mailer="fake", **settings)``,
    its resources open for the block."""
    container = build_container(Settings(mailer="fake", **settings))  # type: ignore[arg-type]
    app = create_app(container.settings(), container=container, run_workers=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        resources_open(container),
        httpx.AsyncClient(transport=transport, base_url="http://mailroom.test") as client,
    ):
        yield client, container


def stored(container: Container) -> int:
    store = container.store()
    assert isinstance(store, InMemoryTaskStore)
    return len(store)


def redis_settings(redis_url: str) -> dict[str, object]:
    return {
        "store": "redis",
        "redis_url": redis_url,
        "key_prefix": f"ops-{uuid.uuid4().hex[:8]}:",
        "redis_timeout_seconds": 0.5,
    }


async def test_liveness_and_readiness_in_memory_mode() -> None:
    async with api() as (client, _):
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_ready_when_redis_answers(redis_url: str) -> None:
    async with api(**redis_settings(redis_url)) as (client, _):
        response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_not_ready_within_the_redis_timeout_when_redis_is_gone(closed_port: int) -> None:
    settings = redis_settings(f"redis://127.0.0.1:{closed_port}/0")
    async with api(**settings) as (client, _):
        started = time.monotonic()
        response = await client.get("/readyz")
        elapsed = time.monotonic() - started
        health = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["detail"].startswith("redis: ")
    assert elapsed < 0.5 + 1.0
    assert health.status_code == 200  # alive, only not ready


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/json",
        None,
    ],
)
async def test_a_body_not_declared_as_json_is_415_and_creates_nothing(
    content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    async with api() as (client, container):
        response = await client.post(
            "/send-email", content=b'{"email": "user@example.com"}', headers=headers
        )
        assert stored(container) == 0
    assert response.status_code == 415
    assert response.json() == {
        "detail": "unsupported media type: send the body as application/json"
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/x+json",
    ],
)
async def test_json_media_types_are_accepted(content_type: str) -> None:
    async with api() as (client, container):
        response = await client.post(
            "/send-email",
            content=httpx.Request("POST", "/", json=HELLO).content,
            headers={"content-type": content_type},
        )
        assert stored(container) == 1
    assert response.status_code == 202


async def test_invalid_json_is_422_without_echoing_the_body() -> None:
    raw = b'{"email": "secret-user@example.com", "body": "top secret'
    async with api() as (client, container):
        response = await client.post(
            "/send-email", content=raw, headers={"content-type": "application/json"}
        )
        assert stored(container) == 0
    assert response.status_code == 422
    assert [error["type"] for error in response.json()["detail"]] == ["json_invalid"]
    assert "secret" not in response.text


async def test_every_answer_carries_a_request_id_and_a_valid_given_one_is_kept() -> None:
    async with api() as (client, _):
        generated = await client.get("/healthz")
        given = await client.post("/send-email", json=HELLO, headers={"x-request-id": "abc-123.X"})
        refused = await client.get("/healthz", headers={"x-request-id": "bad id\twith tab"})
        too_long = await client.get("/healthz", headers={"x-request-id": "a" * 129})
        on_error = await client.post("/send-email", content=b"x", headers={"x-request-id": "e-1"})
    prefix, _, count = generated.headers["x-request-id"].partition("-")
    assert (len(prefix), int(prefix, 16) >= 0, int(count, 16)) == (16, True, 1)
    assert given.headers["x-request-id"] == "abc-123.X"
    assert refused.headers["x-request-id"] not in ("bad id\twith tab", "")
    assert too_long.headers["x-request-id"].startswith(prefix)
    assert (on_error.status_code, on_error.headers["x-request-id"]) == (415, "e-1")


async def test_over_the_rate_limit_is_429_with_retry_after_and_creates_nothing() -> None:
    async with api(rate_limit="3/minute") as (client, container):
        answers = [await client.post("/send-email", json=HELLO) for _ in range(4)]
        status = await client.get(f"/task/{uuid.uuid4()}/status")
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
        assert stored(container) == 3
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    assert refused.json() == {"detail": "rate limit exceeded, retry later"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert status.status_code == 429  # every API route counts, not only intake
    assert (health.status_code, metrics.status_code) == (200, 200)  # operations never do


async def test_without_a_rate_limit_nothing_is_limited_nor_checked() -> None:
    async with api() as (client, container):
        answers = [await client.post("/send-email", json=HELLO) for _ in range(30)]
        assert stored(container) == 30
        app = client._transport.app  # type: ignore[attr-defined]
    assert {answer.status_code for answer in answers} == {202}
    for route in app.routes:
        names = [depends.dependency.__name__ for depends in getattr(route, "dependencies", [])]
        assert "rate_limited" not in names, route.path


async def test_in_redis_mode_the_rate_limit_is_shared_by_every_api_process(redis_url: str) -> None:
    settings = {**redis_settings(redis_url), "rate_limit": "3/minute"}
    async with api(**settings) as (first, _), api(**settings) as (second, _):
        answers = [
            await first.post("/send-email", json=HELLO),
            await second.post("/send-email", json=HELLO),
            await first.post("/send-email", json=HELLO),
            await second.post("/send-email", json=HELLO),
        ]
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1


async def test_a_rate_limit_that_cannot_reach_redis_is_503_not_500(closed_port: int) -> None:
    settings = {**redis_settings(f"redis://127.0.0.1:{closed_port}/0"), "rate_limit": "3/minute"}
    async with api(**settings) as (client, _):
        response = await client.post("/send-email", json=HELLO)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0


async def test_the_rate_limit_counts_per_api_key_and_not_refused_requests() -> None:
    alice, bob = new_key(), new_key()
    keys = f"alice:{key_hash(alice)},bob:{key_hash(bob)}"
    as_alice = {"authorization": f"Bearer {alice}"}
    as_bob = {"authorization": f"Bearer {bob}"}
    async with api(rate_limit="2/minute", api_keys=keys) as (client, _):
        wrong = [
            await client.post("/send-email", json=HELLO, headers={"authorization": "Bearer x"})
            for _ in range(3)
        ]
        alices = [await client.post("/send-email", json=HELLO, headers=as_alice) for _ in range(3)]
        bobs = [await client.post("/send-email", json=HELLO, headers=as_bob) for _ in range(2)]
    assert {answer.status_code for answer in wrong} == {401}
    assert [answer.status_code for answer in alices] == [202, 202, 429]
    assert [answer.status_code for answer in bobs] == [202, 202]
