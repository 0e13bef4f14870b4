"""Test doubles with observable state: a clock the test moves, ids it can predict."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock that stands still until ``advance`` moves it."""

    def __init__(self, start: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SequentialIds:
    """UUID4-shaped ids, predictable: ...-000000000001, ...-000000000002, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return str(uuid.UUID(int=next(self._counter), version=4))
