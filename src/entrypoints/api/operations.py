"""Operations endpoints: liveness, readiness and Prometheus metrics. Never rate limited.

GET /healthz   200 while the process serves HTTP (it checks nothing else)
GET /readyz    200 when the task store answers: always in memory mode; in Redis mode when
               Redis answers PING within MAILROOM_REDIS_TIMEOUT_SECONDS, else 503
GET /metrics   Prometheus text format (see ``entrypoints.metrics``)
"""

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis_support import RedisKeys
from entrypoints.container import Container, provide
from entrypoints.docs import OPERATIONS_TAG
from entrypoints.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)

router = APIRouter(tags=[OPERATIONS_TAG])


class Health(BaseModel):
    """``status`` is ``ok`` (alive), ``ready`` or ``unavailable`` (with ``detail``)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready"}, {"status": "ok"}]}
    )

    status: Literal["ok", "ready", "unavailable"]
    detail: str | None = None


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Health,
        "description": "Redis did not answer PING in time",
        "content": {
            "application/json": {
                "example": {"status": "unavailable", "detail": "redis: connection refused"}
            }
        },
    }
}
_METRICS_EXAMPLE = (
    "# HELP mailroom_tasks_accepted_total Tasks accepted\n"
    "# TYPE mailroom_tasks_accepted_total counter\n"
    "mailroom_tasks_accepted_total 42.0\n"
)


@router.get(
    "/healthz", summary="Liveness: 200 while the process runs", response_model_exclude_none=True
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: 200 when the task store answers, else 503",
    response_model=Health,
    response_model_exclude_none=True,
    responses=_NOT_READY,
)
async def readyz(request: Request) -> Health | JSONResponse:
    container: Container = request.app.state.container
    if container.settings().store != "redis":
        return Health(status="ready")
    timeout_s = container.settings().redis_timeout_seconds
    try:
        client: Redis = await provide(container.redis_client)
        await asyncio.wait_for(client.ping(), timeout=timeout_s)
    except (RedisError, OSError, TimeoutError) as exc:
        detail = f"redis: {exc or type(exc).__name__}"
        log.warning("not ready: %s", detail)
        body = Health(status="unavailable", detail=detail)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ready")


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"example": _METRICS_EXAMPLE}}}},
)
async def metrics(request: Request) -> Response:
    container: Container = request.app.state.container
    collected = container.metrics()
    collected.queue_depth.set(await queue_depth(container))
    return Response(collected.exposition(), media_type=CONTENT_TYPE)


async def queue_depth(container: Container) -> float:
    """Entries not yet acknowledged. Redis: ``XLEN`` of the stream (acknowledged entries are
    deleted, so it counts ready and leased ones) plus ``ZCARD`` of the delayed retries, in one
    round trip; NaN when Redis fails. Memory: the queue's length."""
    if container.settings().store != "redis":
        return float(len(container.memory_queue()))
    keys: RedisKeys = container.redis_keys()
    try:
        client: Redis = await provide(container.redis_client)
        async with client.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.queue)
            pipe.zcard(keys.delayed)
            ready_and_leased, delayed = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("queue depth unknown: %s", exc)
        return float("nan")
    return float(ready_and_leased + delayed)
