"""Use cases wired to in-memory adapters and fakes: no sockets, no container."""

import pytest

from adapters.fake_mailer import FakeMailer
from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.deliver_email import DeliverEmail
from application.start_email_task import StartEmailTask
from domain.retry import RetryPolicy
from tests.unit.fakes import FakeClock, SequentialIds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryTaskQueue:
    return InMemoryTaskQueue(clock=clock)


@pytest.fixture
def store(queue: InMemoryTaskQueue, clock: FakeClock) -> InMemoryTaskStore:
    return InMemoryTaskStore(queue=queue, clock=clock, ttl_s=3600)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def start(store: InMemoryTaskStore, clock: FakeClock) -> StartEmailTask:
    return StartEmailTask(
        store=store,
        clock=clock,
        ids=SequentialIds(),
        sender="mailroom@example.org",
        message_id_domain="example.org",
    )


@pytest.fixture
def deliver(store: InMemoryTaskStore, mailer: FakeMailer, clock: FakeClock) -> DeliverEmail:
    return DeliverEmail(
        store=store,
        mailer=mailer,
        clock=clock,
        policy=RetryPolicy(base_s=2, max_s=300, max_attempts=3),
        uniform=lambda a, b: b,
    )
