"""Use cases as FastAPI dependencies, taken from the container of the app serving the request.

Each is resolved from ``request.app.state.container`` rather than through dependency-injector's
module wiring (``@inject`` + ``Provide``): wiring patches the route modules for the most recently
wired container, so two apps in one process (tests, embedding) would answer with each other's
adapters; and ``Provide`` markers make FastAPI run a synchronous dependency in its thread pool on
every request, a cost the intake path does not need.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request

from application.get_task_status import GetTaskStatus
from application.list_tasks import ListTasks
from application.retry_task import RetryTask
from application.start_email_batch import StartEmailBatch
from entrypoints.container import Container, provide

T = TypeVar("T")


async def _resolved(request: Request, name: str, of: Callable[[Container], Any]) -> Any:
    """The use case ``name`` of this app, built once on first use and kept on the app: use cases
    hold no per-request state, and building one per request is measurable on the intake path
    (in Redis mode every provider call goes through dependency-injector's async mode)."""
    kept: dict[str, Any] = request.app.state.use_cases
    if name not in kept:
        container: Container = request.app.state.container
        kept[name] = await provide(of(container))
    return kept[name]


def _use_case(
    name: str, of: Callable[[Container], Any], kind: type[T]
) -> Callable[[Request], Awaitable[T]]:
    async def dependency(request: Request) -> T:
        return cast(T, await _resolved(request, name, of))

    return dependency


start_email_batch = _use_case("start_email_batch", lambda c: c.start_email_batch, StartEmailBatch)
get_task_status = _use_case("get_task_status", lambda c: c.get_task_status, GetTaskStatus)
_list_tasks = _use_case("list_tasks", lambda c: c.list_tasks, ListTasks)
_retry_task = _use_case("retry_task", lambda c: c.retry_task, RetryTask)


"""``start_email_batch(request)`` and ``get_task_status(request)`` are called directly by the
intake and status routes (``routes``), the hottest ones, rather than as dependencies."""

StartBatch = Annotated[StartEmailBatch, Depends(start_email_batch)]
Listing = Annotated[ListTasks, Depends(_list_tasks)]
Retry = Annotated[RetryTask, Depends(_retry_task)]
