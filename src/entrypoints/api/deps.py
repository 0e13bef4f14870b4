"""Use cases as FastAPI dependencies, taken from the container of the app serving the request.

Each is resolved from ``request.app.state.container`` rather than through dependency-injector's
module wiring (``@inject`` + ``Provide``): wiring patches the route modules for the most recently
wired container, so two apps in one process (tests, embedding) would answer with each other's
adapters; and ``Provide`` markers make FastAPI run a synchronous dependency in its thread pool on
every request, a cost the intake path does not need.
"""

from typing import Annotated

from fastapi import Depends, Request

from application.get_task_status import GetTaskStatus
from application.list_tasks import ListTasks
from application.retry_task import RetryTask
from application.start_email_batch import StartEmailBatch
from entrypoints.container import Container, provide


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _start_email_batch(request: Request) -> StartEmailBatch:
    return await provide(_container(request).start_email_batch)


async def _get_task_status(request: Request) -> GetTaskStatus:
    return await provide(_container(request).get_task_status)


async def _list_tasks(request: Request) -> ListTasks:
    return await provide(_container(request).list_tasks)


async def _retry_task(request: Request) -> RetryTask:
    return await provide(_container(request).retry_task)


StartBatch = Annotated[StartEmailBatch, Depends(_start_email_batch)]
Lookup = Annotated[GetTaskStatus, Depends(_get_task_status)]
Listing = Annotated[ListTasks, Depends(_list_tasks)]
Retry = Annotated[RetryTask, Depends(_retry_task)]
