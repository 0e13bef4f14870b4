"""The composition root: one dependency-injector container picks adapters from settings.

Nothing here is built at import time: ``build_container(settings)`` makes a container, and the
app's lifespan (or the worker) initialises its resources and shuts them down.
"""

import asyncio
import contextlib
import inspect
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from dependency_injector import containers, providers
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.fake_mailer import FakeMailer
from adapters.file_mailer import FileMailer
from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from adapters.redis_connection import connection_class_for
from adapters.redis_store import RedisKeys, RedisTaskQueue, RedisTaskStore
from adapters.smtp_mailer import SmtpConfig, SmtpMailer
from adapters.task_ids import RandomUuids
from application.deliver_email import DeliverEmail
from application.get_task_status import GetTaskStatus
from application.list_tasks import ListTasks
from application.ports import Mailer
from application.retry_task import RetryTask
from application.start_email_batch import StartEmailBatch
from application.start_email_task import StartEmailTask
from application.worker import DeliveryWorker
from domain.retry import RetryPolicy
from entrypoints.api.keys import ApiKeys
from entrypoints.api.ratelimit import open_rate_limit
from entrypoints.metrics import Metrics
from entrypoints.observe import ObservedDelivery, ObservedMailer, ObservedStore
from entrypoints.settings import Settings

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def consumer_name() -> str:
    """A Redis Streams consumer name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


async def open_redis(url: str, timeout_s: float) -> AsyncIterator[Redis]:
    """A redis-py asyncio client whose every call is bounded by ``timeout_s`` seconds."""
    client = Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        **connection_class_for(url),
        # One quick retry on a dropped connection (a Redis restart); the store's scripts make a
        # retried write safe. Longer outages surface as StoreUnavailable (503, worker backoff).
        # Not on a timeout, which redis-py's Retry includes by default: against a hung Redis that
        # would make a call take twice timeout_s.
        retry=Retry(
            ExponentialBackoff(cap=0.1, base=0.01),
            retries=1,
            supported_errors=(RedisConnectionError,),
        ),
    )
    try:
        yield client
    finally:
        await client.aclose()


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username or None,
        password=settings.smtp_password.get_secret_value() or None,
        timeout_s=settings.smtp_timeout_seconds,
        validate_certs=settings.smtp_validate_certs,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        local_hostname=settings.smtp_local_hostname,
        allow_plain_auth=settings.smtp_allow_plain_auth,
        pool_size=settings.smtp_pool_size,
        max_messages_per_connection=settings.smtp_max_messages_per_connection,
        idle_s=settings.smtp_idle_seconds,
    )


async def mailer_opened(mailer: Mailer) -> AsyncIterator[Mailer]:
    """Starts the SMTP mailer (start-up warnings, EHLO name, certificates, all off the event
    loop) and closes its connection pool at shutdown; the other mailers need neither."""
    if not isinstance(mailer, SmtpMailer):
        yield mailer
        return
    await mailer.start()
    try:
        yield mailer
    finally:
        await mailer.aclose()


class Container(containers.DeclarativeContainer):
    """Adapters are singletons chosen by ``settings.store`` and ``settings.mailer``; use cases
    are factories."""

    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration(strict=True)

    clock = providers.Object(utc_now)
    ids = providers.Singleton(RandomUuids)

    redis_client = providers.Resource(
        open_redis, url=config.redis_url, timeout_s=config.redis_timeout_seconds
    )
    redis_keys = providers.Singleton(RedisKeys, prefix=config.key_prefix)
    memory_queue = providers.Singleton(
        InMemoryTaskQueue, clock=clock, visibility_timeout_s=config.visibility_timeout_seconds
    )

    store = providers.Selector(
        config.store,
        memory=providers.Singleton(
            InMemoryTaskStore,
            queue=memory_queue,
            clock=clock,
            ttl_s=config.task_ttl_seconds,
            idempotency_ttl_s=config.idempotency_ttl_seconds,
            max_tasks=config.memory_max_tasks,
        ),
        redis=providers.Singleton(
            RedisTaskStore,
            client=redis_client,
            keys=redis_keys,
            ttl_s=config.task_ttl_seconds,
            idempotency_ttl_s=config.idempotency_ttl_seconds,
        ),
    )
    queue = providers.Selector(
        config.store,
        memory=memory_queue,
        redis=providers.Singleton(
            RedisTaskQueue,
            client=redis_client,
            keys=redis_keys,
            consumer=providers.Callable(consumer_name),
            clock=clock,
            visibility_timeout_s=config.visibility_timeout_seconds,
        ),
    )
    mailer = providers.Selector(
        config.mailer,
        smtp=providers.Singleton(SmtpMailer, config=providers.Callable(smtp_config, settings)),
        file=providers.Singleton(FileMailer, outbox_dir=config.outbox_dir),
        fake=providers.Singleton(FakeMailer),
    )
    mailer_lifecycle = providers.Resource(mailer_opened, mailer=mailer)

    # Operations: metrics around the use cases (entrypoints.observe), the API's rate limit.
    metrics = providers.Singleton(Metrics)
    intake_store = providers.Factory(ObservedStore, store=store, metrics=metrics)
    observed_mailer = providers.Factory(ObservedMailer, mailer=mailer, metrics=metrics)
    rate_limit = providers.Resource(
        open_rate_limit,
        limit=settings.provided.rate_limit,
        store=config.store,
        redis_url=config.redis_url,
        timeout_s=config.redis_timeout_seconds,
        key_prefix=config.key_prefix,
    )
    retry_policy = providers.Singleton(
        RetryPolicy,
        base_s=config.retry_base_seconds,
        max_s=config.retry_max_seconds,
        max_attempts=config.max_attempts,
    )

    start_email_task = providers.Factory(
        StartEmailTask,
        store=intake_store,
        clock=clock,
        ids=ids,
        sender=config.mail_from,
        message_id_domain=settings.provided.sender_domain,
    )
    get_task_status = providers.Factory(GetTaskStatus, store=store)
    api_keys = providers.Singleton(ApiKeys, hashes=settings.provided.api_key_hashes)
    start_email_batch = providers.Factory(
        StartEmailBatch, prepare=start_email_task, intake=intake_store
    )
    list_tasks = providers.Factory(ListTasks, listing=store)
    retry_task = providers.Factory(RetryTask, store=store, clock=clock)
    deliver_email = providers.Factory(
        DeliverEmail,
        store=store,
        mailer=observed_mailer,
        clock=clock,
        policy=retry_policy,
        uniform=providers.Object(random.uniform),
    )
    delivery_worker = providers.Factory(
        DeliveryWorker,
        queue=queue,
        deliver=providers.Factory(ObservedDelivery, deliver=deliver_email, metrics=metrics),
        concurrency=config.worker_concurrency,
        visibility_timeout_s=config.visibility_timeout_seconds,
        grace_s=config.shutdown_grace_seconds,
    )


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.config.from_pydantic(settings)
    return container


@contextlib.asynccontextmanager
async def resources_open(container: Container) -> AsyncIterator[Container]:
    """Opens the container's resources (the Redis client, the mailer's SMTP connection pool) and
    closes them on exit."""
    initialised = container.init_resources()
    if initialised is not None:
        await initialised
    try:
        yield container
    finally:
        closed = container.shutdown_resources()
        if closed is not None:
            await asyncio.shield(closed)


async def provide(provider: Callable[[], T | Awaitable[T]]) -> T:
    """The provider's object; in Redis mode providers that depend on the async Redis resource
    hand back awaitables (dependency-injector's async mode), so this awaits them."""
    provided = provider()
    if inspect.isawaitable(provided):
        return await provided
    return provided
