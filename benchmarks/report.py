"""The benchmark's markdown: tables of a run's figures, the targets of issue 6 checked, and how it
was measured. ``splice`` replaces only the generated section of ``docs/benchmarks.md`` (between
``BEGIN`` and ``END``), so hand-written sections of the file are kept.
"""

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BEGIN = "<!-- make bench: generated section begins; edit benchmarks/report.py instead -->"
END = "<!-- make bench: generated section ends -->"

LABELS = {
    "ceiling": "(a) ceiling: bare FastAPI, same validation",
    "tutorial": "(b) tutorial: dict + BackgroundTasks",
    "memory": "(c) Mailroom `serve`, memory store",
    "redis": "(d) Mailroom `api`, Redis store",
}
SHORT = {"ceiling": "ceiling", "tutorial": "tutorial", "memory": "memory", "redis": "Redis"}


def machine_meta(quick: bool) -> dict[str, Any]:
    """When, where and on which commit the run happened."""
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "quick": quick,
        "load_before": os.getloadavg(),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def render(results: dict[str, Any], chart: Path | None, report_path: Path) -> str:
    """The generated section, markers included."""
    parts = [BEGIN, "## `make bench`: Mailroom against the ceiling, the tutorial pattern and arq"]
    parts.append(_header(results["meta"]))
    if chart is not None:
        parts.append(f"![throughput and p99 latency per variant]({_relative(chart, report_path)})")
    parts += [
        _http_table("### 1. Intake: `POST /send-email`", results["intake"]),
        _paired_intake(results.get("paired_intake")),
        _http_table("### 2. Status: `GET /task/{id}/status`", results["status"]),
        _e2e_table(results["e2e"]),
        _scale_tables(results["scale"]),
        _targets(results),
        _errors(results.get("errors", [])),
        METHOD,
        END,
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def splice(path: Path, section: str) -> None:
    """Write ``section`` into ``path`` in place of the previous generated section (or at the end;
    a missing file is created with a title)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _relative(target: Path, start: Path) -> str:
    return os.path.relpath(target.resolve(), start.resolve().parent)


def _header(meta: dict[str, Any]) -> str:
    options = meta.get("options", {})
    lines = []
    if meta["load_before"][0] > 1.0:
        lines.append(
            f"> **Other work was running when this run started (load average"
            f" {meta['load_before'][0]:.1f} on {os.cpu_count()} CPUs): these figures are noisy."
            " Rerun `make bench` on a quiet machine before drawing conclusions.**\n"
        )
    if meta["quick"]:
        lines.append(
            "> **Smoke run (`--quick`): short runs, one repetition, small data sets. These figures"
            " only show that the harness works; they are not measurements.**\n"
        )
    lines.append(
        f"Run of {meta['date']} on commit {meta['commit']}: {meta['cpu']}, Python"
        f" {meta['python']}. wrk runs of {_num(options.get('duration'))} s,"
        f" {options.get('connections')} connections, median of {options.get('repetitions')}"
        f" run(s) per figure. The whole run took {meta.get('wall_s', 0) / 60:.1f} min; load"
        f" average {_load(meta['load_before'])} before, {_load(meta.get('load_after'))} after"
        " (a load well above 2 means other work shared the machine and the figures are noisy;"
        " the ratios drift less than the absolute figures)."
    )
    return "\n".join(lines)


def _num(text: object) -> str:
    try:
        return f"{float(str(text)):g}"
    except ValueError:
        return str(text)


def _load(load: Iterable[float] | None) -> str:
    return "/".join(f"{x:.1f}" for x in load) if load else "?"


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _http_table(title: str, figures: dict[str, Any]) -> str:
    if not figures:
        return ""
    ceiling = figures.get("ceiling")
    rows = [
        title,
        "",
        _row(
            [
                "variant",
                "req/s",
                "spread",
                "x ceiling",
                "p50 ms",
                "p99 ms",
                "p99 x ceiling",
                "failed",
            ]
        ),
        _row(["---"] + ["--:"] * 7),
    ]
    for variant, fig in figures.items():
        rows.append(
            _row(
                [
                    LABELS[variant],
                    f"{fig['rps']:,.0f}",
                    _spread([run["rps"] for run in fig["runs"]]),
                    _ratio(fig["rps"], ceiling and ceiling["rps"]),
                    f"{fig['p50_ms']:.1f}",
                    f"{fig['p99_ms']:.1f}",
                    _ratio(fig["p99_ms"], ceiling and ceiling["p99_ms"]),
                    fig["errors"],
                ]
            )
        )
    return "\n".join(rows)


def _paired_intake(paired: dict[str, list[float]] | None) -> str:
    if not paired:
        return ""
    rates = ", ".join(f"{ratio:.2f}" for ratio in paired["rps_ratios"])
    tails = ", ".join(f"{ratio:.2f}" for ratio in paired["p99_ratios"])
    return (
        "Paired runs, Redis `api` over the ceiling with both servers up at once and runs"
        f" alternating: req/s {rates} (median **{statistics.median(paired['rps_ratios']):.2f}**),"
        f" p99 {tails} (median **{statistics.median(paired['p99_ratios']):.2f}**). The ratios in"
        " the table compare runs made minutes apart."
    )


def _spread(values: list[float]) -> str:
    """Half the range of the runs, relative to their median: how much the runs disagreed."""
    if len(values) < 2:
        return "-"
    middle = sorted(values)[len(values) // 2]
    return f"±{(max(values) - min(values)) / 2 / middle * 100:.0f}%"


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def _e2e_table(rows_in: list[dict[str, Any]]) -> str:
    if not rows_in:
        return ""
    arq = next((r for r in rows_in if r["system"] == "arq"), None)
    emails = rows_in[0]["emails"]
    rows = [
        f"### 3. End to end: {emails:,} emails into a local SMTP sink (Redis)",
        "",
        _row(
            [
                "system",
                "worker processes",
                f"intake s ({emails:,})",
                "worker start s",
                "delivery s",
                "delivered/s",
                "x arq",
                "total s",
                "worker CPU ms/email",
                "sink CPU ms/email",
                "extra deliveries",
            ]
        ),
        _row(["---"] + ["--:"] * 10),
    ]
    for r in rows_in:
        total = r["intake_s"] + r["startup_s"] + r["deliver_s"]
        rows.append(
            _row(
                [
                    "Mailroom"
                    if r["system"] == "mailroom"
                    else "arq (`max_jobs=100`, `poll_delay=0.01`)",
                    r["workers"],
                    f"{r['intake_s']:.1f}",
                    f"{r['startup_s']:.1f}",
                    f"{r['deliver_s']:.1f}",
                    f"{r['delivered_per_s']:,.0f}",
                    _ratio(r["delivered_per_s"], arq and arq["delivered_per_s"]),
                    f"{total:.1f}",
                    f"{r['worker_cpu_ms_per_email']:.2f}",
                    f"{r['sink_cpu_ms_per_email']:.2f}",
                    f"{r['extra_deliveries']:.0f}",
                ]
            )
        )
    rows.append(
        "\nIntake: Mailroom `api` alone answering exactly "
        f"{emails:,} `POST /send-email` (wrk, then stopped), arq's `enqueue_job` ({emails:,} calls,"
        " 100 at a time). Delivery: from the first time the sink"
        " had counted a message to the last message; delivered/s and worker CPU count the"
        " messages in that span. Worker start: from starting the worker processes to the first"
        " message. Worker CPU: user + system CPU time of the worker processes per email (start-up"
        " excluded), a figure that other load on the machine"
        " disturbs less than the rates. Extra deliveries: messages counted beyond the emails"
        " sent (duplicates)."
    )
    return "\n".join(rows)


def _scale_tables(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return ""
    rows = [
        "### 4. Scale: latency with tasks already stored",
        "",
        _row(
            [
                "store",
                "tasks stored",
                "intake req/s",
                "intake p50 ms",
                "intake p99 ms",
                "status req/s",
                "status p50 ms",
                "status p99 ms",
                "p99 vs 0 stored, paired runs (intake / status)",
                "req/s vs 0 stored, paired runs (intake / status)",
            ]
        ),
        _row(["---"] + ["--:"] * 9),
    ]
    for entry in sorted(entries, key=lambda e: (e["store"], e["stored"])):
        base = _base(entries, entry["store"])
        rows.append(
            _row(
                [
                    SHORT[entry["store"]],
                    f"{entry['stored']:,}",
                    f"{entry['intake']['rps']:,.0f}",
                    f"{entry['intake']['p50_ms']:.1f}",
                    f"{entry['intake']['p99_ms']:.1f}",
                    f"{entry['status']['rps']:,.0f}",
                    f"{entry['status']['p50_ms']:.1f}",
                    f"{entry['status']['p99_ms']:.1f}",
                    _growth(entry, base),
                    _paired_medians(entry.get("paired_rps_ratios", {})),
                ]
            )
        )
    rows += ["", *_memory_lines(entries)]
    return "\n".join(rows)


def _base(entries: list[dict[str, Any]], store: str) -> dict[str, Any] | None:
    return next((e for e in entries if e["store"] == store and e["stored"] == 0), None)


def _growth(entry: dict[str, Any], base: dict[str, Any] | None) -> str:
    growth = [_p99_growth(entry, base, kind) for kind in ("intake", "status")]
    if None in growth:
        return "-"
    return " / ".join(f"{ratio:.2f}" for ratio in growth)


def _paired_medians(ratios: dict[str, list[float]]) -> str:
    """``intake / status`` medians of the paired runs' ratios; ``-`` without pairs."""
    if not (ratios.get("intake") and ratios.get("status")):
        return "-"
    return " / ".join(f"{statistics.median(ratios[kind]):.2f}" for kind in ("intake", "status"))


def _p99_growth(entry: dict[str, Any], base: dict[str, Any] | None, kind: str) -> float | None:
    """p99 with ``entry``'s tasks stored over p99 with none: the median of the paired runs'
    ratios when the entry has them (runs alternating with a server holding nothing), else the
    ratio of the two entries' medians (measured minutes apart); None for the 0-stored row, or
    without pairs and without a 0-stored row (``--scale`` without 0)."""
    paired = entry.get("paired_p99_ratios", {}).get(kind)
    if paired:
        return float(statistics.median(paired))
    if base is None or entry is base:
        return None
    return float(entry[kind]["p99_ms"] / base[kind]["p99_ms"])


def _backlog_lines(memory: list[dict[str, Any]]) -> list[str]:
    return [
        f"- memory store, {entry['stored']:,} stored: {entry['backlog_after_intake']:,} of the"
        " tasks accepted were still queued when the intake runs ended: at full load the worker"
        " that shares the process delivers more slowly than the client submits; with the default"
        " `MAILROOM_MEMORY_MAX_TASKS` (100,000) a longer run answers 503 with `Retry-After` once"
        " the store holds only undelivered tasks"
        for entry in memory
        if entry.get("backlog_after_intake") is not None
    ]


def _memory_lines(entries: list[dict[str, Any]]) -> list[str]:
    lines = ["Memory:", ""]
    memory = [e for e in entries if e["store"] == "memory"]
    base = _base(entries, "memory")
    for entry in memory:
        if base is not None and entry["stored"]:
            per = (entry["rss_start"] - base["rss_start"]) / entry["stored"] * 100_000
            lines.append(
                f"- memory store, {entry['stored']:,} completed tasks prefilled: RSS"
                f" {_mib(entry['rss_start'])} vs {_mib(base['rss_start'])} empty, so"
                f" **{_mib(per)} per 100,000 tasks**"
            )
    for entry in memory:
        if entry["accepted_during_intake"] >= _ENOUGH:
            per = (
                (entry["rss_after_intake"] - entry["rss_before_intake"])
                / entry["accepted_during_intake"]
                * 100_000
            )
            lines.append(
                f"- memory store, {entry['stored']:,} stored, RSS growth while accepting"
                f" {entry['accepted_during_intake']:,} tasks over HTTP (delivered by the fake"
                f" mailer meanwhile): {_mib(per)} per 100,000 tasks; RSS"
                f" {_mib(entry['rss_after_intake'])} at the end of the intake runs"
            )

    lines += _backlog_lines(memory)
    for entry in (e for e in entries if e["store"] == "redis"):
        if entry["stored"]:
            per = (entry["redis_memory_filled"] - entry["redis_memory_empty"]) / entry["stored"]
            lines.append(
                f"- Redis, {entry['stored']:,} completed tasks: `used_memory`"
                f" {_mib(entry['redis_memory_filled'])}, so **{per:,.0f} bytes per completed task**"
            )
        if entry["accepted_during_intake"] >= _ENOUGH:
            per = (
                entry["redis_memory_after_intake"] - entry["redis_memory_before_intake"]
            ) / entry["accepted_during_intake"]
            lines.append(
                f"- Redis, {entry['stored']:,} stored, while accepting"
                f" {entry['accepted_during_intake']:,} tasks over HTTP (pending, each with its"
                f" stream entry): {per:,.0f} bytes per accepted task"
            )
    return lines


# Fewer tasks accepted over HTTP than this give memory-per-task figures drowned in noise
# (allocator arenas, Redis client buffers): they are left out.
_ENOUGH = 10_000


def _mib(octets: float) -> str:
    return f"{octets / 2**20:,.1f} MiB"


def _targets(results: dict[str, Any]) -> str:
    intake = results["intake"]
    rows = [
        "### Targets (issue 6)",
        "",
        _row(["target", "measured", "met"]),
        _row(["---", "--:", ":-:"]),
    ]
    ceiling = intake.get("ceiling")
    rows += _intake_target(results)
    for variant in ("redis", "memory"):
        if ceiling and variant in intake:
            ratio = intake[variant]["p99_ms"] / ceiling["p99_ms"]
            rows.append(
                _row(
                    [
                        f"{SHORT[variant]} intake p99 ≤ 2 x ceiling p99",
                        f"{ratio:.2f}",
                        _met(ratio <= 2),
                    ]
                )
            )
    e2e = {(r["system"], r["workers"]): r for r in results["e2e"]}
    if ("mailroom", 1) in e2e and ("arq", 1) in e2e:
        ratio = e2e[("mailroom", 1)]["delivered_per_s"] / e2e[("arq", 1)]["delivered_per_s"]
        rows.append(
            _row(["delivered/s, 1 worker process ≥ 2 x arq", f"{ratio:.2f}", _met(ratio >= 2)])
        )
    for store in ("memory", "redis"):
        entries = [e for e in results["scale"] if e["store"] == store]
        base = _base(results["scale"], store)
        top = max(entries, key=lambda e: e["stored"], default=None)
        if top is None:
            continue
        for kind in ("intake", "status"):
            ratio = _p99_growth(top, base, kind)
            if ratio is None:
                continue
            rows.append(
                _row(
                    [
                        f"{SHORT[store]} {kind} p99 flat (≤ 1.10x) from 0 to {top['stored']:,}"
                        " stored",
                        f"{ratio:.2f}",
                        _met(ratio <= 1.1),
                    ]
                )
            )
    return "\n".join(rows) if len(rows) > 4 else ""


def _intake_target(results: dict[str, Any]) -> list[str]:
    """The Redis intake throughput target: on the paired runs when there are some."""
    intake, paired = results["intake"], results.get("paired_intake")
    if paired:
        ratio = statistics.median(paired["rps_ratios"])
        label = "Redis intake ≥ 0.70 x ceiling req/s (paired runs, median)"
    elif "ceiling" in intake and "redis" in intake:
        ratio = intake["redis"]["rps"] / intake["ceiling"]["rps"]
        label = "Redis intake ≥ 0.70 x ceiling req/s"
    else:
        return []
    return [_row([label, f"{ratio:.2f}", _met(ratio >= 0.7)])]


def _errors(errors: list[str]) -> str:
    if not errors:
        return ""
    lines = ["### Parts of this run that failed", ""]
    lines += [f"- {error.splitlines()[0]}" for error in errors]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


METHOD = """### How these figures are made

- One command, `make bench` (`benchmarks/run.py`; `make bench BENCH_ARGS="--quick"` for a smoke
  run). The system under test (the HTTP server, or the delivery workers) runs on CPU 0 alone
  (`taskset -c 0`); wrk (one thread, 50 connections, `--latency`), the harness, Redis and the SMTP
  sink share CPU 1. Everything listens on 127.0.0.1.
- Every HTTP variant is served the same way by `benchmarks/server.py`: one uvicorn process, uvloop
  and httptools (as `mailroom serve` runs), access log off, log level warning. Mailroom's variants
  are the app `mailroom serve` / `mailroom api` build (`entrypoints.app.create_app` from the same
  `MAILROOM_*` settings); the `mailroom` command itself has no switch for uvicorn's access log.
- Each figure is the median of its runs (each figure's own median), after one warm-up run that is
  not counted; "spread" is half the range of the runs' req/s relative to the median. req/s and
  p50/p99 come from wrk's own latency histogram (a Lua `done` hook prints the percentiles in
  microseconds), with wrk's request timeout raised to 10 s so that slow answers stay in the
  percentiles. Failed requests (non-2xx, socket errors, timeouts) are counted in the tables and
  never count as throughput.
- (a) the ceiling (`benchmarks/ceiling.py`) validates the body with Mailroom's own
  `SendEmailRequest` (same email-validator check) and returns a constant JSON; its status route
  parses the UUID and returns a constant. (b) the tutorial pattern (`benchmarks/tutorial.py`) is
  the module-level dict plus `BackgroundTasks`, with the same request model and a send that does
  not sleep. (c) `serve` with the memory store and the fake mailer: delivery runs in the same
  process and shares its CPU. (d) `api` with the Redis store and no worker running: intake alone.
- Redis runs with `appendonly yes`, `appendfsync always` (no acknowledged task lost) and
  `maxmemory-policy noeviction`, as docs/architecture.md asks for durability; automatic AOF
  rewrites are off so that none lands inside a measurement; Redis is flushed before each variant.
- Status: wrk's Lua script picks a random id for each request among 1,000 tasks POSTed just
  before (or, with tasks prefilled, among 10,000 prefilled ids); the ceiling gets random UUIDs.
- Scale: N completed tasks are stored before the server starts. Memory store: inside the server
  process, each task goes through the store's and queue's own methods as a delivery takes it
  (`add`, `save` processing, `save` completed, queue entry received and acknowledged), with its
  own strings and datetimes. Redis: one task is written by `RedisTaskStore` itself and its hash
  copied server-side by a Lua script to N new ids (same fields, same TTL), then read back through
  `RedisTaskStore.get` to check the layout. RSS is the server's `VmRSS`; Redis memory is
  `INFO memory` `used_memory` before and after. The memory store is bounded
  (`MAILROOM_MEMORY_MAX_TASKS`, default 100,000): the memory runs set it to N + 1,000,000 so
  that the N tasks stay and that no intake request meets a store full of undelivered tasks (the
  backlog left is reported); every other run uses the default. "p99 vs 0 stored, paired runs":
  while the server holding N tasks is up, a second one holding none (its own empty Redis, in
  Redis mode) is up as well, on the same CPU; their wrk runs alternate (target first, then
  baseline first), each `serve` run starting once both in-process workers delivered what earlier
  runs left queued, and the figure is the median of the pairs' p99 ratios (`--pairs`, 9 by
  default, after a warm-up as long as one run on each server); the last column is the median
  of the same pairs' req/s ratios. With 5 pairs, two runs of
  `make bench` an hour apart on the same code and a quiet machine gave 0.99 and 1.14 for Redis
  status at 1,000,000 stored (single pairs 0.82 to 1.21), and 11 pairs of the same comparison
  outside `make bench` 1.02. Comparing against the 0-stored row instead, measured minutes
  earlier, moved by 15% between two runs of `make bench` on this shared machine (0.81 and 1.14
  for the same code); with 3 pairs and a 3 s warm-up, the median still moved between 0.88 and
  1.26 (single pairs 0.71 to 1.67: a 10 s run's p99 swings by a third here, on either server,
  and a fresh server's first 10 to 20 s of load had a p99 10 to 20% higher).
- Paired intake (`benchmarks/paired_intake.py`): the ceiling and `api` (Redis store, no worker)
  up at once on CPU 0, wrk runs alternating between them (order swapped every pair), each pair
  giving Mailroom's req/s and p99 over the ceiling's (`--pairs` pairs, 10 s warm-up of each);
  the intake target is judged on the median of the pairs, since the table compares runs made
  minutes apart (0.68 to 0.79 for the same code on one day).
- End to end: an SMTP sink in its own process (`benchmarks/smtp_sink.py`, on CPU 1) accepts
  every message and only counts it. By default it is a minimal asyncio SMTP server (EHLO, MAIL,
  RCPT, DATA, RSET, QUIT, pipelining): aiosmtpd costs about 1.2 ms of CPU per message here, which
  would cap delivery near 800/s and measure the sink; `--sink aiosmtpd` uses aiosmtpd instead. The
  sink's CPU per message is in the table. Mailroom: `api` takes exactly N POSTs (wrk), is stopped,
  then 1 or 2 `mailroom worker` processes with their default settings (all on CPU 0: this machine
  has two cores, so a second worker adds no CPU) deliver the backlog. arq
  (`benchmarks/arq_job.py`, in `benchmarks/.venv`): N jobs enqueued, then one arq worker
  (`max_jobs=100`, `poll_delay=0.01`) whose job builds the same message with the standard
  library and sends it with `aiosmtplib.send`, one connection per message. Runs alternate between
  the systems."""
