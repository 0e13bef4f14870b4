import pytest

from domain.retry import RetryPolicy


def upper_bound(a: float, b: float) -> float:
    return b


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (9, 300.0)])
def test_backoff_doubles_from_the_base_up_to_the_cap(attempts: int, ceiling: float) -> None:
    assert RetryPolicy(base_s=2, max_s=300).delay_s(attempts, upper_bound) == ceiling


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    drawn: list[tuple[float, float]] = []

    def record(a: float, b: float) -> float:
        drawn.append((a, b))
        return (a + b) / 2

    assert RetryPolicy(base_s=2, max_s=300).delay_s(3, record) == 4.0
    assert drawn == [(0.0, 8.0)]


def test_max_attempts_counts_the_first_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.allows_another(n) for n in (1, 2, 3)] == [True, True, False]


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
