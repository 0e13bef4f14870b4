"""The benchmark chart: ``python -m benchmarks.chart RESULTS.json OUT.png`` (matplotlib; run from
``benchmarks/.venv``, which ``make bench`` sets up).

Panels: intake and status req/s and p99 latency per variant, end-to-end delivered/s, and p99
latency against the number of stored tasks.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = {
    "ceiling": "(a) ceiling",
    "tutorial": "(b) tutorial",
    "memory": "(c) Mailroom memory",
    "redis": "(d) Mailroom Redis",
}
COLORS = {"ceiling": "#888888", "tutorial": "#d9a441", "memory": "#4c9be8", "redis": "#c0392b"}


def bars(axis: Any, figures: dict[str, Any], key: str, title: str, unit: str) -> None:
    variants = list(figures)
    values = [figures[v][key] for v in variants]
    axis.barh([NAMES[v] for v in variants], values, color=[COLORS[v] for v in variants])
    axis.invert_yaxis()
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(unit)
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:,.0f}" if value >= 100 else f" {value:.1f}", va="center")
    axis.margins(x=0.25)


def end_to_end(axis: Any, rows: list[dict[str, Any]]) -> None:
    labels = [
        f"Mailroom, {r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        if r["system"] == "mailroom"
        else "arq (tuned)"
        for r in rows
    ]
    values = [r["delivered_per_s"] for r in rows]
    colors = ["#c0392b" if r["system"] == "mailroom" else "#6c5ce7" for r in rows]
    axis.barh(labels, values, color=colors)
    axis.invert_yaxis()
    axis.set_title(f"End to end: delivered/s ({rows[0]['emails']:,} emails)", fontsize=10)
    axis.set_xlabel("emails/s")
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:,.0f}", va="center")
    axis.margins(x=0.25)


def scale(axis: Any, entries: list[dict[str, Any]]) -> None:
    for store in ("memory", "redis"):
        points = sorted((e for e in entries if e["store"] == store), key=lambda e: e["stored"])
        if not points:
            continue
        stored = [max(e["stored"], 1) for e in points]
        for kind, style in (("intake", "-o"), ("status", "--s")):
            axis.plot(
                stored,
                [e[kind]["p99_ms"] for e in points],
                style,
                color=COLORS[store],
                label=f"{NAMES[store]}, {kind}",
            )
    axis.set_xscale("log")
    axis.set_title("p99 latency vs tasks stored (0 plotted at 1)", fontsize=10)
    axis.set_xlabel("tasks stored")
    axis.set_ylabel("ms")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=7)


def draw(results: dict[str, Any], out: Path) -> None:
    figure, axes = plt.subplots(3, 2, figsize=(12, 11))
    if results["intake"]:
        bars(axes[0][0], results["intake"], "rps", "Intake: POST /send-email", "req/s")
        bars(axes[0][1], results["intake"], "p99_ms", "Intake: p99 latency", "ms")
    if results["status"]:
        bars(axes[1][0], results["status"], "rps", "Status: GET /task/{id}/status", "req/s")
        bars(axes[1][1], results["status"], "p99_ms", "Status: p99 latency", "ms")
    if results["e2e"]:
        end_to_end(axes[2][0], results["e2e"])
    if results["scale"]:
        scale(axes[2][1], results["scale"])
    meta = results["meta"]
    title = f"Mailroom benchmarks, {meta['date']}, commit {meta['commit']}"
    if meta["quick"]:
        title += " (SMOKE RUN: not a measurement)"
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=90)


def main() -> None:
    results_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(results_path.read_text()), out)


if __name__ == "__main__":
    main()
