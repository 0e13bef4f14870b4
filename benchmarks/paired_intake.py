"""Redis-mode intake against the ceiling with both servers up at once, runs alternating:
``.venv/bin/python -m benchmarks.paired_intake [--pairs N]``.

``make bench`` measures the ceiling first and Mailroom minutes later, so drift of a shared machine
moves the ratio between runs (0.68 to 0.79 on one day for the same code). Here ``benchmarks.server
ceiling`` and ``benchmarks.server api`` (Redis store, a private Redis with ``appendfsync always``,
no worker) run on CPU 0 at the same time, wrk (50 connections, CPU 1) posts to one then the other
(order swapped every pair) for 10 s each after a 10 s warm-up of each, and each pair gives
Mailroom's req/s and p99 over the ceiling's. Prints every pair and the medians.
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks import infra, wrk
from benchmarks.run import PREFIX, log


def measure(
    workdir: Path,
    redis_url: str,
    pairs: int,
    seconds: float,
    server_cpu: int,
    load_cpu: int,
    warmup_s: float,
) -> dict[str, list[float]]:
    """``pairs`` pairs of runs after ``warmup_s`` seconds of load on each server; per pair
    Mailroom's req/s and p99 over the ceiling's."""
    env = {
        "MAILROOM_STORE": "redis",
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_KEY_PREFIX": PREFIX,
        "MAILROOM_MAILER": "smtp",
        "MAILROOM_MAIL_FROM": "bench@example.com",
        "MAILROOM_LOG_LEVEL": "warning",
    }
    rates: list[float] = []
    tails: list[float] = []
    with (
        infra.http_server("ceiling", server_cpu, workdir) as (ceiling, _),
        infra.http_server("api", server_cpu, workdir, env) as (mailroom, _),
    ):
        # The ceiling is the "target" only so that it runs first in the first pair.
        pairs_run = wrk.alternate(
            f"{ceiling}/send-email",
            f"{mailroom}/send-email",
            wrk.POST_SCRIPT,
            pairs=pairs,
            seconds=seconds,
            warmup_s=warmup_s,
            connections=50,
            cpu=load_cpu,
        )
        for pair, (ceiling_run, redis_run) in enumerate(pairs_run):
            rate, tail = wrk.ratios(redis_run, ceiling_run)
            rates.append(rate)
            tails.append(tail)
            log(
                f"pair {pair + 1}: ceiling {ceiling_run.rps:,.0f} req/s"
                f" (p99 {ceiling_run.p99_ms:.1f} ms), Redis {redis_run.rps:,.0f}"
                f" (p99 {redis_run.p99_ms:.1f} ms): {rates[-1]:.2f}x,"
                f" p99 {tails[-1]:.2f}x"
            )
    return {"rps_ratios": rates, "p99_ratios": tails}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds per server first")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailroom-paired-") as tmp:
        workdir = Path(tmp)
        redis = infra.RedisServer(workdir / "redis", args.load_cpu)
        try:
            ratios = measure(
                workdir,
                redis.url,
                args.pairs,
                args.seconds,
                args.server_cpu,
                args.load_cpu,
                args.warmup,
            )
        finally:
            redis.stop()
    print(
        f"Redis intake over the ceiling, median of {args.pairs} pairs:"
        f" {statistics.median(ratios['rps_ratios']):.2f}x req/s,"
        f" {statistics.median(ratios['p99_ratios']):.2f}x p99"
    )


if __name__ == "__main__":
    main()
