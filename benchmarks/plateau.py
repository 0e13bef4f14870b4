"""The memory store stays bounded under a long run at full load: ``python -m benchmarks.plateau``.

``mailroom serve`` (memory store, fake mailer, the default ``MAILROOM_MEMORY_MAX_TASKS``; CPU 0)
takes ``POST /send-email`` from wrk (50 connections, CPU 1) for ``--seconds`` (default 120) in
consecutive windows of ``--window`` seconds (default 10). After each window: the server's RSS
(``VmRSS``), the requests answered 202 and 503 in that window, and ``mailroom_queue_depth``. The
store holds at most ``MAILROOM_MEMORY_MAX_TASKS`` tasks (finished ones forgotten first, 503 with
``Retry-After`` when all are unfinished), so RSS levels off once the store is full instead of
growing with every task accepted. Prints a table; ``--markdown`` prints it as markdown.
"""

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import infra, wrk
from benchmarks.run import queue_depth


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    env = {
        "MAILROOM_STORE": "memory",
        "MAILROOM_MAILER": "fake",
        "MAILROOM_MAIL_FROM": "bench@example.com",
        "MAILROOM_LOG_LEVEL": "warning",
    }
    rows: list[tuple[float, int, int, int, int]] = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        infra.http_server("serve", args.server_cpu, Path(workdir), env) as (url, server),
    ):
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            run = wrk.run(f"{url}/send-email", wrk.POST_SCRIPT, args.window, 50, args.load_cpu, ())
            rows.append(
                (
                    time.monotonic() - started,
                    infra.rss_bytes(server.pid),
                    run.requests - run.non2xx,
                    run.non2xx,
                    queue_depth(url),
                )
            )
        stored = httpx.get(f"{url}/healthz", timeout=10).status_code
    _print(rows, markdown=args.markdown, healthy=stored == 200)


def _print(rows: list[tuple[float, int, int, int, int]], *, markdown: bool, healthy: bool) -> None:
    header = ("after s", "RSS MiB", "202 in window", "503 in window", "queued")
    lines = [header] + [
        (f"{t:.0f}", f"{rss / 2**20:.1f}", f"{ok:,}", f"{refused:,}", f"{queued:,}")
        for t, rss, ok, refused, queued in rows
    ]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        for line in lines:
            print("  ".join(f"{cell:>14}" for cell in line))
    print(f"server still healthy at the end: {healthy}")


if __name__ == "__main__":
    main()
