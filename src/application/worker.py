"""The delivery loop: lease entries from the queue, deliver them concurrently, acknowledge them.

At-least-once: an entry is acknowledged only after ``DeliverEmail`` recorded an outcome (a
terminal state, a reschedule, or nothing left to do). An entry whose handling raised stays leased
and is handed to a worker again after the visibility timeout. While a delivery runs, its lease is
extended every third of the visibility timeout, so a slow but live delivery is not taken over.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from application.errors import StoreUnavailable
from application.ports import Lease, TaskQueue

log = logging.getLogger(__name__)

Deliver = Callable[[Lease], Awaitable[object]]


class DeliveryWorker:
    """Runs up to ``concurrency`` deliveries at once until ``stop`` is set.

    On stop it reads nothing more, waits up to ``grace_s`` seconds for deliveries in flight, then
    cancels the rest; their entries stay unacknowledged for another worker to reclaim.
    ``visibility_timeout_s`` is the queue's; ``poll_s`` bounds one blocking ``receive`` (seconds);
    ``backoff_max_s`` caps the pause after the queue could not be reached (it doubles from 0.1 s
    on each consecutive failure).

    The loop costs few event-loop iterations per refill, because in ``serve`` it shares one loop
    with the HTTP server, whose iterations each answer up to one request per connection: it first
    asks the queue for entries already waiting (``receive(n, 0)``, which needs no suspension in
    the memory queue and no ``BLOCK`` in Redis) and blocks (racing ``stop``) only when there were
    none and ``stop`` is still clear; a full worker waits on one future that the first delivery
    to finish resolves; a lease is extended from a timer (``loop.call_later``), not from a task
    per delivery.
    """

    def __init__(
        self,
        *,
        queue: TaskQueue,
        deliver: Deliver,
        concurrency: int,
        visibility_timeout_s: float,
        grace_s: float,
        poll_s: float = 1.0,
        backoff_max_s: float = 5.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._queue = queue
        self._deliver = deliver
        self._concurrency = concurrency
        self._extend_every_s = max(visibility_timeout_s / 3, 0.05)
        self._grace_s = grace_s
        self._poll_s = poll_s
        self._backoff_max_s = backoff_max_s
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed: asyncio.Future[None] | None = None
        self._stopping: asyncio.Future[Any] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._run(stop)
        finally:
            if self._stopping is not None:
                self._stopping.cancel()
                self._stopping = None
        await self._drain()

    async def _run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            stopping = self._watch(stop)
            free = self._concurrency - len(self._in_flight)
            if free < 1:
                # Woken by the first delivery to finish, or by stop.
                self._slot_freed = asyncio.get_running_loop().create_future()
                await self._slot_freed
                continue
            try:
                leases = await self._queue.receive(free, 0.0)
                if not leases and not stop.is_set():
                    leases = await self._receive(free, stopping)
            except StoreUnavailable as exc:
                failures += 1
                pause = min(self._backoff_max_s, 0.1 * 2 ** min(failures, 10))
                log.warning("queue unavailable, retrying in %.1fs: %s", pause, exc)
                await _sleep_unless(stop, pause)
                continue
            failures = 0
            for lease in leases:
                self._start(lease)

    async def _receive(self, free: int, stopping: "asyncio.Future[Any]") -> list[Lease]:
        receiving = asyncio.ensure_future(self._queue.receive(free, self._poll_s))
        racing: set[asyncio.Future[Any]] = {receiving, stopping}
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        if not receiving.done():
            # Stopping while the queue was blocked waiting for entries: whatever it would have
            # leased stays in the queue (an entry leased but not handled is reclaimed later).
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            return []
        return list(receiving.result())

    def _watch(self, stop: asyncio.Event) -> "asyncio.Future[Any]":
        """A future done once ``stop`` is set, which also wakes a full worker; a new one if the
        event was set and cleared since the last."""
        if self._stopping is None or self._stopping.done():
            self._stopping = asyncio.ensure_future(stop.wait())
            self._stopping.add_done_callback(lambda _: self._wake())
        return self._stopping

    def _start(self, lease: Lease) -> None:
        task = asyncio.create_task(self._handle(lease), name=f"deliver:{lease.task_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: "asyncio.Task[None]") -> None:
        # Called from the delivery's own finally and again from its done callback: only the
        # first frees the slot and wakes a full worker.
        if task in self._in_flight:
            self._in_flight.discard(task)
            self._wake()

    def _wake(self) -> None:
        if self._slot_freed is not None and not self._slot_freed.done():
            self._slot_freed.set_result(None)

    async def _handle(self, lease: Lease) -> None:
        extension = _LeaseExtension(self._queue, lease, self._extend_every_s)
        try:
            await self._deliver(lease)
            await self._queue.ack(lease)
        except asyncio.CancelledError:
            log.warning(
                "delivery cancelled at shutdown; its queue entry stays unacknowledged",
                extra={"task_id": lease.task_id},
            )
            raise
        except Exception:
            log.exception(
                "delivery failed; entry left for reclaim", extra={"task_id": lease.task_id}
            )
        finally:
            extension.stop()
            # Free the slot now rather than from the done callback, one loop iteration later.
            current = asyncio.current_task()
            if current is not None:
                self._finished(current)

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        log.info(
            "waiting up to %.1fs for %d deliveries in flight", self._grace_s, len(self._in_flight)
        )
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self._grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


class _LeaseExtension:
    """Extends ``lease`` every ``every_s`` seconds until ``stop()``: a timer that starts one
    ``queue.extend`` at a time and re-arms when it returns."""

    def __init__(self, queue: TaskQueue, lease: Lease, every_s: float) -> None:
        self._queue = queue
        self._lease = lease
        self._every_s = every_s
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(every_s, self._due)
        self._extending: asyncio.Task[None] | None = None

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._extending is not None:
            self._extending.cancel()

    def _due(self) -> None:
        self._timer = None
        self._extending = self._loop.create_task(self._extend())

    async def _extend(self) -> None:
        try:
            await self._queue.extend(self._lease)
        except StoreUnavailable as exc:
            log.warning("could not extend lease: %s", exc, extra={"task_id": self._lease.task_id})
        self._extending = None
        self._timer = self._loop.call_later(self._every_s, self._due)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
