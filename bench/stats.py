"""Latency samples and the numbers printed for them (no third-party dependencies)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Samples:
    """Wall times in seconds of one kind of operation (one completion, one case start, ...)."""

    name: str
    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    @contextmanager
    def timed(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.values.append(time.perf_counter() - start)

    @property
    def count(self) -> int:
        return len(self.values)

    def ms(self, p: float) -> float:
        return percentile(sorted(self.values), p) * 1000

    @property
    def mean_ms(self) -> float:
        return sum(self.values) / len(self.values) * 1000 if self.values else math.nan

    @property
    def per_second(self) -> float:
        """Serial throughput: operations / sum of their wall times (= 1 / mean)."""
        total = sum(self.values)
        return len(self.values) / total if total else math.nan

    def row(self) -> str:
        return (f"{self.name:<34} n={self.count:<6} p50 {self.ms(50):8.2f} ms  p95 {self.ms(95):8.2f} ms  "
                f"p99 {self.ms(99):8.2f} ms  mean {self.mean_ms:8.2f} ms  {self.per_second:9.1f}/s")


def ratio(a: float, b: float) -> str:
    if not b or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.1f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain left/right aligned text table (first column left, the others right)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for k, r in enumerate([headers, *rows]):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def server_cpu(conn: Any) -> float:
    """CPU seconds (user + system) the PostgreSQL backends of this database have used so far, read from
    /proc (the server runs on this machine): with the client's own CPU time it says what a run costs
    whatever the load, where wall time on a shared machine is mostly waiting for a core."""
    import os

    import sqlalchemy as sa

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))  # else the transaction's first list is kept
    for (pid,) in conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total
