#!/usr/bin/env python
"""An instance's state loaded and dumped: SpiffWorkflow's own converters against ``app.engine.state_codec``.

    .venv/bin/python bench/state_codec.py               # the main path's 10 states, 200 rounds, 3 alternations
    .venv/bin/python bench/state_codec.py --rounds 500

The states are those of ``bench/task_completion.py``'s main path (four_in_one, the case start and each of its 9
user tasks completed through ``app.engine``). Each round loads every state (``serialization.load_state``) and dumps
every loaded workflow (``serialization.dump_state``), once with the serializer instances were saved with before the
codec (``serialization.spiff_state_serializer()``) and once with the codec; the two alternate ``--alternations``
times. Printed: CPU ms per state (``time.process_time``), each alternation and the ratio of the medians, and whether
both give the same text. Nothing is asserted (tests/engine/test_state_codec.py holds the equality).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from workload import main_files, main_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--alternations", type=int, default=3)
    args = parser.parse_args()

    from app import engine
    from app.engine import serialization
    from app.engine.sandbox import make_script_engine

    start, steps = main_path()
    files: dict[str, bytes | str] = dict(main_files())
    parsed = engine.parse_bundle(files)
    key = "bench-codec-" + parsed.process_id
    pinned = serialization.pinned_spec(key, parsed.spec_json)
    snap = engine.start_instance(key, parsed.spec_json, {**start, "case_number": "LD-BENCH-000001"})
    states = [snap.state]
    for step in steps:
        task_id = next(t.id for t in snap.ready_tasks if t.bpmn_id == step.bpmn_id)
        snap = engine.complete_task(key, parsed.spec_json, snap.state, task_id, dict(step.data))
        states.append(snap.state)
    script_engine = make_script_engine(None)
    codec, spiff = serialization._serializer, serialization.spiff_state_serializer()

    def measure(serializer: Any) -> tuple[float, float, list[str]]:
        serialization._serializer = serializer
        try:
            started = time.process_time()
            for _ in range(args.rounds):
                for state in states:
                    serialization.load_state(key, pinned, state, script_engine)
            load = time.process_time() - started
            loaded = [serialization.load_state(key, pinned, state, script_engine) for state in states]
            started = time.process_time()
            for _ in range(args.rounds):
                for workflow in loaded:
                    serialization.dump_state(workflow)
            dump = time.process_time() - started
            texts = [serialization.dump_state(workflow) for workflow in loaded]
        finally:
            serialization._serializer = codec
        per = 1000 / args.rounds / len(states)
        return load * per, dump * per, texts

    runs: dict[str, list[tuple[float, float]]] = {"SpiffWorkflow's converters": [], "state_codec": []}
    texts: dict[str, list[str]] = {}
    for _ in range(args.alternations):
        for name, serializer in (("SpiffWorkflow's converters", spiff), ("state_codec", codec)):
            load, dump, texts[name] = measure(serializer)
            runs[name].append((load, dump))
    sizes = [len(s.encode("utf-8")) for s in states]
    print(f"{len(states)} states of {min(sizes)}-{max(sizes)} bytes, {args.rounds} rounds x {args.alternations} "
          f"alternations; CPU ms per state")
    print(f"{'':28s} {'load (each)':>28s} {'dump (each)':>28s} {'load + dump (median)':>21s}")
    medians = {}
    for name, values in runs.items():
        loads, dumps = [v[0] for v in values], [v[1] for v in values]
        medians[name] = (statistics.median(loads), statistics.median(dumps))
        print(f"{name:28s} {' '.join(f'{v:.3f}' for v in loads):>28s} {' '.join(f'{v:.3f}' for v in dumps):>28s} "
              f"{sum(medians[name]):21.3f}")
    old, new = medians["SpiffWorkflow's converters"], medians["state_codec"]
    print(f"ratio (SpiffWorkflow's / state_codec): load {old[0] / new[0]:.2f}x, dump {old[1] / new[1]:.2f}x, "
          f"both {sum(old) / sum(new):.2f}x")
    same = texts["state_codec"] == texts["SpiffWorkflow's converters"] == states
    print(f"same text from both, and equal to the stored states: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
