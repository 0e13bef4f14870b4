"""When to try again: exponential backoff with full jitter.

Delay before retry n (n = 1 after the first failed attempt) is uniform in
``[0, min(max_s, base_s * 2 ** (n - 1))]`` ("full jitter", AWS Architecture Blog,
"Exponential Backoff And Jitter", 2015).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``base_s`` and ``max_s`` in seconds; ``max_attempts`` counts every attempt, the first too."""

    base_s: float = 2.0
    max_s: float = 300.0
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.max_s < 0 or self.max_attempts < 1:
            raise ValueError("retry policy needs base_s >= 0, max_s >= 0 and max_attempts >= 1")

    def allows_another(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay_s(self, attempts_made: int, uniform: Callable[[float, float], float]) -> float:
        """Seconds to wait after ``attempts_made`` attempts; ``uniform(a, b)`` draws the jitter."""
        ceiling = min(self.max_s, self.base_s * 2 ** max(0, attempts_made - 1))
        return uniform(0.0, ceiling)
