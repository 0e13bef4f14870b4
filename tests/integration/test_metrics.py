"""``GET /metrics``: what the API and the workers count, read back in the Prometheus text format.

In process (the API over httpx ASGITransport, the delivery worker running beside it) with the fake
mailer or a real SMTP server; and with real ``mailroom api`` and ``mailroom worker`` processes
sharing a metrics directory (prometheus-client's multiprocess mode).
"""

import asyncio
import math
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from adapters.fake_mailer import FakeMailer
from application.errors import DeliveryFailed, PermanentDeliveryError, TransientDeliveryError
from entrypoints.app import create_app
from entrypoints.container import Container, build_container, resources_open
from entrypoints.metrics import REASONS, failure_reason
from entrypoints.settings import Settings
from entrypoints.worker import running_worker
from tests.integration.fixtures.smtp_server import SmtpTestServer
from tests.integration.processes import mailroom
from tests.integration.service_support import service_env, wait_for_status

HELLO = {"email": "user@example.com", "subject": "Hello", "body": "Test email"}
Client = httpx.AsyncClient


def sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with ``labels`` in a text exposition; fails if absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


@asynccontextmanager
async def service(
    replace_mailer: object = None, **settings: object
) -> AsyncIterator[tuple[Client, Container]]:
    """API and delivery worker of one container (memory store, immediate retries), with
    ``replace_mailer`` instead of the configured mailer if given."""
    base: dict[str, object] = {"mailer": "fake", "retry_base_seconds": 0, "retry_max_seconds": 0}
    container = build_container(Settings(**{**base, **settings}))  # type: ignore[arg-type]
    if replace_mailer is not None:
        container.mailer.override(providers.Object(replace_mailer))
    app = create_app(container.settings(), container=container, run_workers=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        resources_open(container),
        running_worker(container),
        Client(transport=transport, base_url="http://mailroom.test") as client,
    ):
        yield client, container


async def metrics_text(client: Client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def until_status(client: Client, task_id: str, wanted: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while (await client.get(f"/task/{task_id}/status")).json()["status"] != wanted:
        assert time.monotonic() < deadline, f"task {task_id} not {wanted}"
        await asyncio.sleep(0.01)


async def post(client: Client) -> str:
    response = await client.post("/send-email", json=HELLO)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def caused_by(error: DeliveryFailed, cause: BaseException) -> DeliveryFailed:
    error.__cause__ = cause
    return error


async def test_every_metric_is_exposed_and_prefixed_mailroom() -> None:
    async with service() as (client, _):
        text = await metrics_text(client)
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names >= {
        "mailroom_tasks_accepted",
        "mailroom_tasks_delivered",
        "mailroom_tasks_failed",
        "mailroom_tasks_retried",
        "mailroom_delivery_duration_seconds",
        "mailroom_deliveries_in_flight",
        "mailroom_queue_depth",
        "mailroom_smtp_pool_connections",
    }
    assert all(name.startswith("mailroom_") for name in names)
    for reason in REASONS:  # every reason is there from the start, at 0
        assert sample(text, "mailroom_tasks_failed_total", reason=reason) == 0


async def test_accepted_delivered_retried_and_failed_tasks_are_counted_by_reason() -> None:
    async with service(max_attempts=2) as (client, container):
        mailer = container.mailer()
        assert isinstance(mailer, FakeMailer)
        mailer.fail_next(TransientDeliveryError("451 4.3.0 try later", code=451))
        first = await post(client)  # retried, then delivered
        await until_status(client, first, "completed")
        mailer.fail_next(
            caused_by(TransientDeliveryError("timeout: read"), TimeoutError()),
            caused_by(TransientDeliveryError("connection lost"), ConnectionResetError()),
        )
        second = await post(client)  # retried, then failed: no attempts left
        await until_status(client, second, "failed")
        mailer.fail_next(PermanentDeliveryError("550 5.1.1 no such user", code=550))
        third = await post(client)
        await until_status(client, third, "failed")
        text = await metrics_text(client)
    assert sample(text, "mailroom_tasks_accepted_total") == 3
    assert sample(text, "mailroom_tasks_delivered_total") == 1
    assert sample(text, "mailroom_tasks_retried_total", reason="smtp_4xx") == 1
    assert sample(text, "mailroom_tasks_retried_total", reason="timeout") == 1
    assert sample(text, "mailroom_tasks_failed_total", reason="connection") == 1
    assert sample(text, "mailroom_tasks_failed_total", reason="smtp_5xx") == 1
    assert sample(text, "mailroom_delivery_duration_seconds_count", result="ok") == 1
    assert sample(text, "mailroom_delivery_duration_seconds_count", result="error") == 4
    assert sample(text, "mailroom_queue_depth") == 0


async def test_deliveries_in_flight_and_queue_depth_follow_the_work() -> None:
    gate = asyncio.Event()
    async with service(worker_concurrency=1) as (client, container):
        mailer = container.mailer()
        assert isinstance(mailer, FakeMailer)
        mailer.gate = gate
        await post(client)
        await post(client)
        deadline = time.monotonic() + 5
        while not mailer.attempts:
            assert time.monotonic() < deadline, "no delivery started"
            await asyncio.sleep(0.01)
        busy = await metrics_text(client)
        gate.set()
        deadline = time.monotonic() + 5
        while len(mailer.sent) < 2:
            assert time.monotonic() < deadline, "deliveries did not finish"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the worker acknowledges after the send returns
        idle = await metrics_text(client)
    assert sample(busy, "mailroom_deliveries_in_flight") == 1
    assert sample(busy, "mailroom_queue_depth") == 2  # one leased, one waiting
    assert sample(idle, "mailroom_deliveries_in_flight") == 0
    assert sample(idle, "mailroom_queue_depth") == 0


async def test_smtp_replies_are_counted_by_reply_class(smtp_server: SmtpTestServer) -> None:
    settings = {
        "mailer": "smtp",
        "smtp_port": smtp_server.port,
        "smtp_local_hostname": "mailroom.test",
        "smtp_timeout_seconds": 5,
        "max_attempts": 1,
    }
    async with service(**settings) as (client, _):
        delivered = await post(client)
        await until_status(client, delivered, "completed")
        smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
        refused = await post(client)
        await until_status(client, refused, "failed")
        smtp_server.reply_next("DATA", "452 4.3.1 out of memory")
        deferred = await post(client)
        await until_status(client, deferred, "failed")
        text = await metrics_text(client)
    assert sample(text, "mailroom_tasks_delivered_total") == 1
    assert sample(text, "mailroom_tasks_failed_total", reason="smtp_5xx") == 1
    assert sample(text, "mailroom_tasks_failed_total", reason="smtp_4xx") == 1


async def test_an_unreachable_smtp_server_counts_as_connection(closed_port: int) -> None:
    settings = {"mailer": "smtp", "smtp_port": closed_port, "max_attempts": 1}
    async with service(**settings) as (client, _):
        task_id = await post(client)
        await until_status(client, task_id, "failed")
        text = await metrics_text(client)
    assert sample(text, "mailroom_tasks_failed_total", reason="connection") == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (lambda: TransientDeliveryError("421 closing", code=421), "smtp_4xx"),
        (lambda: PermanentDeliveryError("554 no", code=554), "smtp_5xx"),
        (lambda: caused_by(TransientDeliveryError("t"), TimeoutError()), "timeout"),
        (lambda: caused_by(TransientDeliveryError("t"), ssl.SSLError()), "tls"),
        (lambda: caused_by(PermanentDeliveryError("t"), ssl.SSLCertVerificationError()), "tls"),
        (lambda: caused_by(TransientDeliveryError("t"), ConnectionRefusedError()), "connection"),
        (lambda: caused_by(TransientDeliveryError("t"), PermissionError()), "io"),
        (lambda: caused_by(PermanentDeliveryError("t"), ValueError()), "other"),
        (lambda: TransientDeliveryError("no cause"), "other"),
    ],
)
def test_failure_reasons_come_from_the_reply_code_or_the_cause(
    error: Callable[[], DeliveryFailed], reason: str
) -> None:
    assert failure_reason(error()) == reason
    assert reason in REASONS


def test_api_and_worker_processes_share_their_metrics_through_the_directory(
    tmp_path: Path, redis_url: str, smtp_server: SmtpTestServer
) -> None:
    env = service_env(redis_url, smtp_server.port, metrics_dir=tmp_path / "metrics")
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path) as worker:
        ids = []
        for _ in range(2):
            response = httpx.post(f"{api.base_url}/send-email", json=HELLO, timeout=5)
            assert response.status_code == 202, response.text
            ids.append(response.json()["task_id"])
        for task_id in ids:
            wait_for_status(api, task_id, "completed")
        text = httpx.get(f"{api.base_url}/metrics", timeout=5).text
        assert worker.stop(timeout_s=20) == 0, worker.output
        after_worker = httpx.get(f"{api.base_url}/metrics", timeout=5).text
    assert sample(text, "mailroom_tasks_accepted_total") == 2  # counted by the API process
    assert sample(text, "mailroom_tasks_delivered_total") == 2  # counted by the worker process
    assert sample(text, "mailroom_delivery_duration_seconds_count", result="ok") == 2
    assert sample(text, "mailroom_queue_depth") == 0
    assert sample(after_worker, "mailroom_tasks_delivered_total") == 2  # past work stays counted
    in_flight = [
        s.value
        for family in text_string_to_metric_families(after_worker)
        for s in family.samples
        if s.name == "mailroom_deliveries_in_flight"
    ]
    assert all(value == 0 or math.isnan(value) for value in in_flight)
    assert list((tmp_path / "metrics").glob("*.db"))


class PooledFakeMailer(FakeMailer):
    """A fake that reports open connections, as the SMTP pool does."""

    open_connections = 3


async def test_the_pool_gauge_follows_a_mailer_that_reports_its_connections() -> None:
    async with service(PooledFakeMailer()) as (client, _):
        task_id = await post(client)
        await until_status(client, task_id, "completed")
        text = await metrics_text(client)
    assert sample(text, "mailroom_smtp_pool_connections") == 3
