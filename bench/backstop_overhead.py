#!/usr/bin/env python
"""What the process-level backstop costs per engine command: the same commands with it on and off, interleaved.

    .venv/bin/python bench/backstop_overhead.py [--rounds 8 --per-round 15]

Each sample is one ``start_instance`` + one ``complete_task`` of ``tests/data/mini.bpmn``
(a condition and a script run), reported per command. Rounds alternate on/off so that
machine load (the load average is printed) hits both alike. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=15)
    args = parser.parse_args()

    from app import engine
    from app.engine import isolation

    bundle = engine.parse_bundle({"mini.bpmn": (ROOT / "tests" / "data" / "mini.bpmn").read_text(encoding="utf-8")})

    def cycle() -> None:
        started = engine.start_instance("overhead", bundle.spec_json, {})
        engine.complete_task("overhead", bundle.spec_json, started.state, started.ready_tasks[0].id, {"ok": True})

    samples: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for enabled in (False, True):
            with isolation.limits(enabled=enabled):
                cycle()  # warm
                for _ in range(args.per_round):
                    began = time.perf_counter()
                    cycle()
                    samples[enabled].append((time.perf_counter() - began) / 2)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.rounds * args.per_round} samples each")
    for enabled, values in samples.items():
        values.sort()
        print(f"backstop {'on ' if enabled else 'off'}: per command p50 {statistics.median(values) * 1000:6.2f} ms, "
              f"p95 {values[int(len(values) * 0.95)] * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
