"""Running ``wrk`` pinned to the load generator's CPU and reading its figures.

Every run uses one wrk thread (the load generator has one CPU), ``--latency``, a 10 s request
timeout (wrk's default of 2 s would drop slow answers from the percentiles), and a Lua script
whose ``done`` hook prints ``non2xx=N`` and ``latency_us p50=.. p90=.. p99=.. max=..
requests=..`` (microseconds, wrk's own histogram).
"""

import re
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
POST_SCRIPT = HERE / "post_email.lua"
STATUS_SCRIPT = HERE / "get_status.lua"
COUNT_SCRIPT = HERE / "post_count.lua"

# wrk drops a request that takes longer than its timeout (2 s by default) from the latency figures
# and counts it as a socket error; a long timeout keeps slow answers in the percentiles.
TIMEOUT_S = 10

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"latency_us p50=(\d+) p90=(\d+) p99=(\d+) max=(\d+) requests=(\d+)")
_NON2XX = re.compile(r"non2xx=(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_ACCEPTED = re.compile(r"accepted=(\d+) failed=(\d+)")


@dataclass(frozen=True)
class Run:
    """One wrk run: requests/s, latency percentiles in milliseconds, errors."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Figures:
    """The median of each figure over repeated runs (each figure's own median), and the runs."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    runs: tuple[Run, ...]

    @classmethod
    def of(cls, runs: Sequence[Run]) -> "Figures":
        return cls(
            rps=statistics.median(r.rps for r in runs),
            p50_ms=statistics.median(r.p50_ms for r in runs),
            p99_ms=statistics.median(r.p99_ms for r in runs),
            errors=sum(r.non2xx + r.socket_errors for r in runs),
            runs=tuple(runs),
        )


def command(
    url: str, script: Path, seconds: float, connections: int, cpu: int, args: Sequence[str] = ()
) -> list[str]:
    """The pinned wrk command line."""
    duration = f"{max(1, round(seconds))}s"
    wrk = ["wrk", "-t1", f"-c{connections}", f"-d{duration}", f"--timeout={TIMEOUT_S}s"]
    wrk += ["--latency", "-s", str(script)]
    return ["taskset", "-c", str(cpu), *wrk, url, *(["--", *args] if args else [])]


def run(
    url: str, script: Path, seconds: float, connections: int, cpu: int, args: Sequence[str] = ()
) -> Run:
    """One wrk run of ``seconds``; raises ``RuntimeError`` when wrk fails or prints no figures."""
    out = _wrk(command(url, script, seconds, connections, cpu, args), seconds + 60)
    return parse(out)


def parse(out: str) -> Run:
    """The figures of wrk's output (with one of this package's Lua scripts)."""
    rate, latency, non2xx = _RATE.search(out), _LATENCY.search(out), _NON2XX.search(out)
    if not (rate and latency and non2xx):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    p50, p90, p99, worst, requests = (int(v) for v in latency.groups())
    socket = _SOCKET.search(out)
    return Run(
        rps=float(rate.group(1)),
        p50_ms=p50 / 1000,
        p90_ms=p90 / 1000,
        p99_ms=p99 / 1000,
        max_ms=worst / 1000,
        requests=requests,
        non2xx=int(non2xx.group(1)),
        socket_errors=sum(int(v) for v in socket.groups()) if socket else 0,
    )


def ratios(run: Run, baseline: Run) -> tuple[float, float]:
    """``run``'s req/s and p99 over ``baseline``'s: one pair's ``(rps ratio, p99 ratio)``."""
    return run.rps / baseline.rps, run.p99_ms / baseline.p99_ms


def alternate(
    target: str,
    baseline: str,
    script: Path,
    *,
    pairs: int,
    seconds: float,
    warmup_s: float,
    connections: int,
    cpu: int,
    args: tuple[Sequence[str], Sequence[str]] = ((), ()),
    settle: Callable[[], None] = lambda: None,
) -> Iterator[tuple[Run, Run]]:
    """``pairs`` pairs of runs on ``target`` and ``baseline`` (two servers up at once), yielded
    as ``(target run, baseline run)`` as each pair ends: first ``warmup_s`` seconds of load on
    each (not counted), then runs in alternating order (target first in the first pair),
    ``settle()`` before each. Drift of a shared machine over minutes moves both runs of a pair
    alike, so a pair's ratio measures what differs between the servers."""
    sides = {"target": (target, args[0]), "baseline": (baseline, args[1])}
    if warmup_s > 0:
        for url, extra in sides.values():
            run(url, script, warmup_s, connections, cpu, extra)
    for number in range(pairs):
        order = ("target", "baseline") if number % 2 == 0 else ("baseline", "target")
        pair: dict[str, Run] = {}
        for side in order:
            url, extra = sides[side]
            settle()
            pair[side] = run(url, script, seconds, connections, cpu, extra)
        yield pair["target"], pair["baseline"]


def post_exactly(
    url: str,
    count: int,
    connections: int,
    cpu: int,
    stored: Callable[[], int],
    bound_s: float,
) -> float:
    """POST exactly ``count`` emails and return the seconds until ``stored()`` (polled every
    10 ms) reaches ``count``; then stops wrk (its Lua script has sent nothing but ``GET /healthz``
    since the last POST). wrk's own elapsed time cannot serve: it always runs its full ``-d``.
    Raises ``TimeoutError`` after ``bound_s``, ``RuntimeError`` when a POST failed or ``stored()``
    ends other than ``count``."""
    cmd = command(url, COUNT_SCRIPT, bound_s, connections, cpu, [str(count)])
    started = time.monotonic()
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while stored() < count:
            if wrk.poll() is not None or time.monotonic() - started > bound_s:
                raise TimeoutError(f"{stored()} of {count} tasks stored after {bound_s} s")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        wrk.send_signal(signal.SIGINT)
        out, _ = wrk.communicate(timeout=30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait(timeout=10)
    # POSTs still in flight at the SIGINT were stored but are not counted as answered by wrk.
    answered = _ACCEPTED.search(out)
    if not answered or int(answered.group(2)) or stored() != count:
        raise RuntimeError(
            f"not exactly {count} tasks stored ({stored()}), or POSTs failed:\n{out}"
        )
    return elapsed


def _wrk(cmd: list[str], timeout_s: float) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout
