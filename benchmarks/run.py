"""``make bench``: Mailroom against FastAPI's ceiling, the BackgroundTasks pattern and arq, in one
run on this machine. Run from the repository root: ``.venv/bin/python -m benchmarks.run [--quick]``.

The system under test runs on one CPU (``--server-cpu``, default 0); wrk, the harness, Redis and
the SMTP sink on the other (``--load-cpu``, default 1). Every HTTP figure is the median of
``--repetitions`` wrk runs of ``--duration`` seconds (50 connections, one wrk thread), after a
warm-up run; everything listens on 127.0.0.1; every wait is bounded. Writes the tables to
``--report`` (the generated section of ``docs/benchmarks.md``; other sections are kept), a chart
to ``--chart`` (matplotlib, from ``benchmarks/.venv``), the raw figures to ``--json``, and prints
the tables.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks import infra, report, wrk
from benchmarks.prefill import fill_redis_sync

PREFIX = "bench:"
TTL_S = 7 * 24 * 3600
MAILROOM = str(Path(sys.executable).parent / "mailroom")
PROBE_TASKS = 1_000


@dataclass(frozen=True)
class Options:
    quick: bool
    duration: float
    repetitions: int
    warmup: float
    pairs: int
    pair_warmup: float
    connections: int
    emails: int
    scale: tuple[int, ...]
    workers: tuple[int, ...]
    only: frozenset[str]
    server_cpu: int
    load_cpu: int
    worker_concurrency: int | None
    sink: str
    bench_python: Path
    report: Path
    chart: Path
    json: Path


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short, 1 repetition")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 2)")
    parser.add_argument("--repetitions", type=int, help="runs per figure (default 3; quick 1)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds (default 3; quick 1)")
    parser.add_argument(
        "--pairs", type=int, help="pairs of runs per paired comparison (default 9; quick 1)"
    )
    parser.add_argument(
        "--pair-warmup",
        type=float,
        help="warm-up seconds of each server before paired runs (default: --duration; quick 1)",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--emails", type=int, help="end-to-end emails (default 20000; quick 1000)")
    parser.add_argument("--scale", help="stored tasks, comma-separated (default 0,100000,1000000)")
    parser.add_argument("--workers", default="1,2", help="worker processes, comma-separated")
    parser.add_argument(
        "--only", default="http,scale,e2e", help="sections: http (1, 2), scale (4), e2e (3)"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, help="MAILROOM_WORKER_CONCURRENCY")
    parser.add_argument(
        "--sink",
        choices=("minimal", "aiosmtpd"),
        default="minimal",
        help="SMTP sink (smtp_sink.py)",
    )
    parser.add_argument("--bench-python", type=Path, default=Path("benchmarks/.venv/bin/python"))
    parser.add_argument("--report", type=Path, help="markdown file (quick: benchmarks/out/...)")
    parser.add_argument("--chart", type=Path, help="PNG chart")
    parser.add_argument("--json", type=Path, help="raw figures")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    out = Path("benchmarks/out") if quick else Path("docs")
    scale = args.scale or ("0,2000,20000" if quick else "0,100000,1000000")
    duration = args.duration or (2.0 if quick else 10.0)
    return Options(
        quick=quick,
        duration=duration,
        repetitions=args.repetitions or (1 if quick else 3),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        pairs=args.pairs or (1 if quick else 9),
        pair_warmup=(
            args.pair_warmup if args.pair_warmup is not None else (1.0 if quick else duration)
        ),
        connections=args.connections,
        emails=args.emails or (1_000 if quick else 20_000),
        scale=tuple(int(n) for n in scale.split(",")),
        workers=tuple(int(n) for n in args.workers.split(",")),
        only=frozenset(args.only.split(",")),
        server_cpu=args.server_cpu,
        load_cpu=args.load_cpu,
        worker_concurrency=args.worker_concurrency,
        sink=args.sink,
        bench_python=args.bench_python,
        report=args.report or out / "benchmarks.md",
        chart=args.chart or out / "benchmarks.png",
        json=args.json
        or (Path("benchmarks/out") if quick else Path("benchmarks")) / "results.json",
    )


def _none() -> None:
    return None


class Bench:
    """One benchmark run: its options, its working directory, Redis, and the results so far."""

    def __init__(self, options: Options, workdir: Path, redis_server: infra.RedisServer) -> None:
        self.o = options
        self.workdir = workdir
        self.redis = redis_server
        self.results: dict[str, Any] = {
            "intake": {},
            "status": {},
            "scale": [],
            "e2e": [],
            "errors": [],
        }

    def section(self, name: str, measure: Callable[..., None], *args: Any) -> None:
        """Run one part of the benchmark; a failure is recorded and reported, and the run goes
        on with the next part."""
        try:
            measure(*args)
        except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
            log(f"FAILED: {name}: {exc}")
            self.results["errors"].append(f"{name}: {type(exc).__name__}: {exc}"[:2000])
        # Figures so far, in case a long run is interrupted.
        self.o.json.parent.mkdir(parents=True, exist_ok=True)
        self.o.json.with_suffix(".partial.json").write_text(json.dumps(self.results, indent=1))

    # -- environment ---------------------------------------------------------------------------

    def mailroom_env(self, **extra: str) -> dict[str, str]:
        env = {
            "MAILROOM_REDIS_URL": self.redis.url,
            "MAILROOM_KEY_PREFIX": PREFIX,
            "MAILROOM_MAIL_FROM": "bench@example.com",
            "MAILROOM_SMTP_LOCAL_HOSTNAME": "bench.test",
            "MAILROOM_LOG_LEVEL": "warning",
            "MAILROOM_TASK_TTL_SECONDS": str(TTL_S),
        }
        if self.o.worker_concurrency:
            env["MAILROOM_WORKER_CONCURRENCY"] = str(self.o.worker_concurrency)
        return {**env, **extra}

    @contextmanager
    def server(
        self,
        variant: str,
        env: dict[str, str] | None = None,
        extra: tuple[str, ...] = (),
        prefill: int = 0,
    ) -> Iterator[tuple[str, infra.Pinned]]:
        """The variant's server; its start is bounded by 60 s plus 1 ms per prefilled task."""
        bound_s = 60.0 + prefill / 1_000
        with infra.http_server(variant, self.o.server_cpu, self.workdir, env, extra, bound_s) as up:
            yield up

    # -- HTTP measurements ---------------------------------------------------------------------

    def runs(
        self, url: str, script: Path, args: tuple[str, ...] = (), mark: Callable[[], None] = _none
    ) -> wrk.Figures:
        """A warm-up run, ``mark()``, then the measured runs."""
        o = self.o
        if o.warmup > 0:
            wrk.run(url, script, o.warmup, o.connections, o.load_cpu, args)
        mark()
        measured = [
            wrk.run(url, script, o.duration, o.connections, o.load_cpu, args)
            for _ in range(o.repetitions)
        ]
        figures = wrk.Figures.of(measured)
        if figures.errors:
            print(f"  warning: {figures.errors} failed requests at {url} ({script.name})")
        return figures

    def intake_and_status(
        self, url: str, ids: list[str] | None, mark: Callable[[str], None] = lambda _: None
    ) -> tuple[wrk.Figures, wrk.Figures]:
        """POST runs, then GET runs over ``ids`` (or over tasks POSTed now for the purpose).
        ``mark("before_intake")`` is called after the POST warm-up, ``mark("after_intake")``
        after the measured POST runs."""
        ids = ids or probe_tasks(url, PROBE_TASKS)
        intake = self.runs(f"{url}/send-email", wrk.POST_SCRIPT, (), lambda: mark("before_intake"))
        mark("after_intake")
        ids_file = self.workdir / f"ids-{uuid.uuid4().hex[:8]}.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        status = self.runs(url, wrk.STATUS_SCRIPT, (str(ids_file),))
        return intake, status

    def paired(
        self,
        target: str,
        baseline: str,
        script: Path,
        args: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
        settle: Callable[[], None] = _none,
    ) -> tuple[wrk.Figures, dict[str, list[float]]]:
        """Runs on ``target`` and on ``baseline`` (two servers up at once) in alternating order,
        ``settle()`` before each: ``target``'s figures and, per neighbouring pair, target p99 /
        baseline p99 (``"p99"``) and target req/s / baseline req/s (``"rps"``). Drift of a
        shared machine over minutes moves both runs of a pair alike, so the ratios of pairs
        measure what differs between the servers (``wrk.alternate``).
        ``--pairs`` pairs, after a warm-up of ``--pair-warmup`` seconds on each server: a fresh
        server's first 10 to 20 s of load had a p99 10 to 20% above later runs' here, which a
        short warm-up left in the first pair."""
        o = self.o
        pairs = list(
            wrk.alternate(
                target,
                baseline,
                script,
                pairs=o.pairs,
                seconds=o.duration,
                warmup_s=o.pair_warmup,
                connections=o.connections,
                cpu=o.load_cpu,
                args=args,
                settle=settle,
            )
        )
        target_runs = [target_run for target_run, _ in pairs]
        per_pair = [wrk.ratios(target, baseline) for target, baseline in pairs]
        return wrk.Figures.of(target_runs), {
            "p99": [tail for _, tail in per_pair],
            "rps": [rate for rate, _ in per_pair],
        }

    def paired_intake_and_status(
        self,
        url: str,
        ids: list[str],
        baseline_url: str,
        mark: Callable[[str], None] = lambda _: None,
        settle: Callable[[], None] = _none,
    ) -> tuple[wrk.Figures, wrk.Figures, dict[str, dict[str, list[float]]]]:
        """As ``intake_and_status`` on ``url``, each run paired with one on ``baseline_url`` (the
        same server with nothing stored): figures of ``url`` and the pairs' ratios, by measure
        (``"p99"``, ``"rps"``) then by kind (``"intake"``, ``"status"``)."""
        baseline_ids = probe_tasks(baseline_url, PROBE_TASKS)
        mark("before_intake")
        intake, intake_ratios = self.paired(
            f"{url}/send-email", f"{baseline_url}/send-email", wrk.POST_SCRIPT, settle=settle
        )
        mark("after_intake")
        files = []
        for name, listed in (("ids", ids), ("baseline", baseline_ids)):
            path = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}.txt"
            path.write_text("\n".join(listed) + "\n")
            files.append((str(path),))
        status, status_ratios = self.paired(
            url, baseline_url, wrk.STATUS_SCRIPT, (files[0], files[1]), settle
        )
        return (
            intake,
            status,
            {
                measure: {"intake": intake_ratios[measure], "status": status_ratios[measure]}
                for measure in ("p99", "rps")
            },
        )

    def paired_intake(self) -> None:
        """Redis intake against the ceiling with both up at once, runs alternating
        (``benchmarks.paired_intake``): what the intake target is judged on."""
        from benchmarks import paired_intake

        log("Redis intake against the ceiling, paired runs")
        self.redis.flush()
        self.results["paired_intake"] = paired_intake.measure(
            self.workdir,
            self.redis.url,
            self.o.pairs,
            self.o.duration,
            self.o.server_cpu,
            self.o.load_cpu,
            self.o.pair_warmup,
        )

    def baselines(self) -> None:
        """(a) the ceiling and (b) the tutorial pattern."""
        for variant in ("ceiling", "tutorial"):
            log(f"{variant}: intake and status")
            with self.server(variant) as (url, _):
                ids = (
                    [str(uuid.uuid4()) for _ in range(PROBE_TASKS)]
                    if variant == "ceiling"
                    else None
                )
                intake, status = self.intake_and_status(url, ids)
            self.record(variant, intake, status)

    def memory_store(self, stored: int) -> None:
        """(c) ``serve``, memory store, fake mailer, with ``stored`` completed tasks first."""
        log(f"memory store, {stored:,} tasks stored: intake and status")
        extra: dict[str, str] = {"MAILROOM_STORE": "memory", "MAILROOM_MAILER": "fake"}
        args: tuple[str, ...] = ()
        ids_file = self.workdir / f"prefilled-{stored}.txt"
        # The memory store is bounded (MAILROOM_MEMORY_MAX_TASKS, default 100,000): keep every
        # prefilled task, and let the intake runs measure accepting rather than the 503 of a
        # store full of tasks the in-process worker has not delivered yet (a saturating client
        # submits faster than it delivers; the backlog left is recorded).
        extra["MAILROOM_MEMORY_MAX_TASKS"] = str(stored + 1_000_000)
        if stored:
            args = ("--prefill", str(stored), "--ids-out", str(ids_file))
        marks: dict[str, int] = {}
        started = time.monotonic()
        with self.server("serve", self.mailroom_env(**extra), args, stored) as (url, process):
            start_s = time.monotonic() - started
            marks["start"] = infra.rss_bytes(process.pid)

            def mark(name: str) -> None:
                marks[name] = infra.rss_bytes(process.pid)
                if name == "after_intake":
                    marks["backlog"] = queue_depth(url)

            paired: dict[str, dict[str, list[float]]] = {}
            if stored:
                # Paired with a server holding nothing, up at the same time; each run starts
                # once both in-process workers delivered what earlier runs left queued.
                baseline_env = self.mailroom_env(
                    MAILROOM_STORE="memory",
                    MAILROOM_MAILER="fake",
                    MAILROOM_MEMORY_MAX_TASKS=str(1_000_000),
                )
                with self.server("serve", baseline_env) as (baseline_url, _):
                    intake, status, paired = self.paired_intake_and_status(
                        url,
                        ids_file.read_text().split(),
                        baseline_url,
                        mark,
                        lambda: drain_queues(url, baseline_url),
                    )
            else:
                intake, status = self.intake_and_status(url, None, mark)
        accepted = accepted_requests(intake)
        self.results["scale"].append(
            {
                "store": "memory",
                "stored": stored,
                "start_s": start_s,
                "rss_start": marks["start"],
                "rss_before_intake": marks["before_intake"],
                "rss_after_intake": marks["after_intake"],
                "accepted_during_intake": accepted,
                "backlog_after_intake": marks["backlog"],
                "intake": dataclasses.asdict(intake),
                "status": dataclasses.asdict(status),
                "paired_p99_ratios": paired.get("p99", {}),
                "paired_rps_ratios": paired.get("rps", {}),
            }
        )
        if stored == 0:
            self.record("memory", intake, status)

    def redis_store(self, stored: int) -> None:
        """(d) ``api``, Redis store, no worker, with ``stored`` completed tasks first."""
        log(f"Redis store, {stored:,} tasks stored: intake and status")
        self.redis.flush()
        memory_empty = self.redis.used_memory()
        ids: list[str] | None = None
        prefill_s = 0.0
        if stored:
            ids, prefill_s = fill_redis_sync(self.redis.url, PREFIX, stored, TTL_S)
        memory_filled = self.redis.used_memory()
        marks: dict[str, int] = {}
        env = self.mailroom_env(MAILROOM_STORE="redis", MAILROOM_MAILER="smtp")
        paired: dict[str, dict[str, list[float]]] = {}
        with self.server("api", env) as (url, _):

            def mark(name: str) -> None:
                marks[name] = self.redis.used_memory()

            if ids:
                # Paired with an API on a second, empty Redis, up at the same time.
                empty = infra.RedisServer(self.workdir / "redis-empty", self.o.load_cpu)
                try:
                    empty_env = {**env, "MAILROOM_REDIS_URL": empty.url}
                    with self.server("api", empty_env) as (baseline_url, _):
                        intake, status, paired = self.paired_intake_and_status(
                            url, ids, baseline_url, mark
                        )
                finally:
                    empty.stop()
            else:
                intake, status = self.intake_and_status(url, ids, mark)
        self.results["scale"].append(
            {
                "store": "redis",
                "stored": stored,
                "prefill_s": prefill_s,
                "redis_memory_empty": memory_empty,
                "redis_memory_filled": memory_filled,
                "redis_memory_before_intake": marks["before_intake"],
                "redis_memory_after_intake": marks["after_intake"],
                "accepted_during_intake": accepted_requests(intake),
                "intake": dataclasses.asdict(intake),
                "status": dataclasses.asdict(status),
                "paired_p99_ratios": paired.get("p99", {}),
                "paired_rps_ratios": paired.get("rps", {}),
            }
        )
        if stored == 0:
            self.record("redis", intake, status)

    def record(self, variant: str, intake: wrk.Figures, status: wrk.Figures) -> None:
        self.results["intake"][variant] = dataclasses.asdict(intake)
        self.results["status"][variant] = dataclasses.asdict(status)

    # -- end to end ----------------------------------------------------------------------------

    def end_to_end(self) -> None:
        sink = infra.SmtpSink(self.o.load_cpu, self.workdir, self.o.sink)
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        try:
            for repetition in range(self.o.repetitions):
                for workers in self.o.workers:
                    log(f"end to end, Mailroom, {workers} worker(s), run {repetition + 1}")
                    runs.setdefault(("mailroom", workers), []).append(
                        self.mailroom_e2e(sink, workers)
                    )
                if self.o.bench_python.exists():
                    log(f"end to end, arq, run {repetition + 1}")
                    runs.setdefault(("arq", 1), []).append(self.arq_e2e(sink))
                else:
                    log(f"skipping arq: {self.o.bench_python} missing (make bench sets it up)")
        finally:
            sink.stop()
        for (system, workers), measured in runs.items():
            self.results["e2e"].append(
                {"system": system, "workers": workers, "emails": self.o.emails}
                | median_fields(measured)
                | {"runs": measured}
            )

    def mailroom_e2e(self, sink: infra.SmtpSink, workers: int) -> dict[str, float]:
        self.redis.flush()
        env = self.mailroom_env(
            MAILROOM_STORE="redis",
            MAILROOM_MAILER="smtp",
            MAILROOM_SMTP_PORT=str(sink.port),
        )
        queue = f"{PREFIX}queue"
        with self.server("api", env) as (url, _):
            intake_s = wrk.post_exactly(
                url,
                self.o.emails,
                self.o.connections,
                self.o.load_cpu,
                lambda: int(self.redis.client.xlen(queue)),
                bound_s=60 + self.o.emails / 50,
            )
        command = [MAILROOM, "worker"]
        return {"intake_s": intake_s} | self.drain(sink, command, workers, env, "mailroom worker")

    def arq_e2e(self, sink: infra.SmtpSink) -> dict[str, float]:
        self.redis.flush()
        python = str(self.o.bench_python)
        enqueue = [python, "-m", "benchmarks.arq_job", "enqueue", "--redis", self.redis.url]
        enqueue += ["--count", str(self.o.emails)]
        done = subprocess.run(
            ["taskset", "-c", str(self.o.load_cpu), *enqueue],
            cwd=infra.ROOT,
            capture_output=True,
            text=True,
            timeout=60 + self.o.emails / 50,
            check=True,
        )
        intake_s = float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
        command = [python, "-m", "benchmarks.arq_job", "worker", "--redis", self.redis.url]
        command += ["--smtp-port", str(sink.port)]
        return {"intake_s": intake_s} | self.drain(sink, command, 1, {}, "arq worker")

    def drain(
        self,
        sink: infra.SmtpSink,
        command: list[str],
        processes: int,
        env: dict[str, str],
        name: str,
    ) -> dict[str, float]:
        """Start ``processes`` copies of ``command`` on the server CPU and time the delivery of
        ``emails`` messages: from the start, from the first message seen, to the last."""
        emails = self.o.emails
        before, sink_cpu = sink.delivered(), sink.cpu_seconds()
        started = time.monotonic()
        logs = self.workdir / f"{name.replace(' ', '-')}-{time.monotonic_ns()}.log"
        workers = [infra.Pinned(command, self.o.server_cpu, logs, env) for _ in range(processes)]
        try:
            first = started + infra.wait_until(
                lambda: sink.delivered() > before, 60, f"{name}: first delivery"
            )
            at_first = sink.delivered() - before
            cpu_at_first = sum(infra.cpu_seconds(worker.pid) for worker in workers)
            last = started + infra.wait_until(
                lambda: sink.delivered() - before >= emails,
                60 + emails / 20,
                f"{name}: {emails} deliveries",
            )
            worker_cpu = sum(infra.cpu_seconds(worker.pid) for worker in workers) - cpu_at_first
            sink_cpu = sink.cpu_seconds() - sink_cpu
        except (TimeoutError, RuntimeError):
            print(workers[0].output())
            raise
        finally:
            for worker in workers:
                worker.stop()
        delivered = sink.delivered() - before
        timed = max(emails - at_first, 1)
        return {
            "startup_s": first - started,
            "deliver_s": last - first,
            "delivered_per_s": timed / max(last - first, 1e-9),
            "worker_cpu_ms_per_email": worker_cpu / timed * 1000,
            "sink_cpu_ms_per_email": sink_cpu / emails * 1000,
            "extra_deliveries": float(delivered - emails),
        }


def median_fields(runs: list[dict[str, float]]) -> dict[str, float]:
    import statistics

    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def accepted_requests(figures: wrk.Figures) -> int:
    return sum(run.requests - run.non2xx for run in figures.runs)


def queue_depth(url: str) -> int:
    """``mailroom_queue_depth`` from the server's ``/metrics``: tasks queued, not yet delivered."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("mailroom_queue_depth"):
            return int(float(line.split()[-1]))
    raise RuntimeError("no mailroom_queue_depth in /metrics")


def drain_queues(*urls: str, bound_s: float = 120.0) -> None:
    """Wait (at most ``bound_s`` seconds) until no server has tasks queued: a `serve` delivers
    in the background what an intake run left, which would share the CPU with the next run."""
    infra.wait_until(
        lambda: all(queue_depth(url) == 0 for url in urls), bound_s, "queues delivered"
    )


def probe_tasks(url: str, count: int) -> list[str]:
    """POST ``count`` emails (one keep-alive connection) and return their task ids."""
    body = {"email": "user@example.com", "subject": "Probe", "body": "Status benchmark probe."}
    with httpx.Client(base_url=url, timeout=10) as client:
        ids = []
        for _ in range(count):
            answer = client.post("/send-email", json=body)
            answer.raise_for_status()
            ids.append(answer.json()["task_id"])
    return ids


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    if missing := infra.missing_tools():
        sys.exit(f"bench: missing {', '.join(missing)} (Debian: apt-get install wrk redis-server)")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("bench: needs two CPUs (server and load generator)")
    # The harness itself stays off the server's CPU.
    os.sched_setaffinity(0, {options.load_cpu})
    started = time.time()
    meta = report.machine_meta(options.quick)
    with tempfile.TemporaryDirectory(prefix="mailroom-bench-") as tmp:
        workdir = Path(tmp)
        redis_server = infra.RedisServer(workdir / "redis", options.load_cpu)
        bench = Bench(options, workdir, redis_server)
        try:
            if "http" in options.only:
                bench.section("baselines", bench.baselines)
            for stored in options.scale:
                if ("http" in options.only and stored == 0) or ("scale" in options.only and stored):
                    bench.section(f"memory store, {stored}", bench.memory_store, stored)
                    bench.section(f"Redis store, {stored}", bench.redis_store, stored)
            if "http" in options.only:
                bench.section("paired intake", bench.paired_intake)
            if "e2e" in options.only:
                bench.section("end to end", bench.end_to_end)
        finally:
            redis_server.stop()
    meta |= {
        "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
        "wall_s": time.time() - started,
        "load_after": os.getloadavg(),
    }
    results = bench.results | {"meta": meta}
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(results, indent=1) + "\n")
    options.json.with_suffix(".partial.json").unlink(missing_ok=True)
    chart_made = make_chart(options, results)
    markdown = report.render(results, options.chart if chart_made else None, options.report)
    report.splice(options.report, markdown)
    print(markdown)
    log(f"done in {meta['wall_s']:.0f} s: {options.report}, {options.json}")


def make_chart(options: Options, results: dict[str, Any]) -> bool:
    if not options.bench_python.exists():
        log(f"no chart: {options.bench_python} missing (make bench sets up benchmarks/.venv)")
        return False
    options.chart.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(options.bench_python),
            "-m",
            "benchmarks.chart",
            str(options.json),
            str(options.chart),
        ],
        cwd=infra.ROOT,
        check=True,
        timeout=120,
    )
    return True


if __name__ == "__main__":
    main()
