#!/usr/bin/env python
"""What a kept validation report saves: validating each shipped bundle against copying its kept report.

    .venv/bin/python bench/validation_cache.py              # 10 rounds
    .venv/bin/python bench/validation_cache.py --rounds 50

``processes.validation.validate_bundle`` keeps the last reports by the bundle's exact content, pickled, and
every caller gets a copy of its own (see its docstring). For each folder under ``bpmn/`` (with ``forms/``, as
``deploy_shipped`` reads them) this prints the best of ``--rounds`` times of: validating it (``_validate``,
the work a kept report saves; the form schemas' own cache is warm, as in a running process), a hit
(``validate_bundle`` with the report kept: the digest and the unpickling), pickling the report (what a miss
adds) and, for comparison, ``copy.deepcopy`` of it (the first version's copy). No database is touched.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.processes import validation  # noqa: E402
from app.processes.operations import read_bundle_folder  # noqa: E402


def best(rounds: int, call: Callable[[], Any]) -> float:
    """The shortest of ``rounds`` wall times of ``call``, in ms (the least disturbed by the machine)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"database_url": f"sqlite:///{tmp}/unused.db", "instance_dir": tmp, "secret_key": "bench",
                          "testing": True, "redis_url": None, "inline_loop": False})
        settings = app.config["LIANDONG"]
        totals = [0.0, 0.0, 0.0, 0.0]
        print(f"{'bundle':28} {'validate ms':>12} {'hit ms':>8} {'pickle ms':>10} {'deepcopy ms':>12} {'kept kB':>8}")
        with app.app_context():
            for folder in sorted(p for p in settings.bpmn_dir.iterdir() if p.is_dir()):
                files, forms = read_bundle_folder(folder, settings.forms_dir)
                report = validation._validate(files, forms)  # noqa: SLF001 -- the uncached work, measured
                validation.forget_reports()
                validation.validate_bundle(files, forms)  # kept now
                row = [best(args.rounds, lambda: validation._validate(files, forms)),  # noqa: B023, SLF001
                       best(args.rounds, lambda: validation.validate_bundle(files, forms)),  # noqa: B023
                       best(args.rounds, lambda: pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)),  # noqa: B023
                       best(args.rounds, lambda: copy.deepcopy(report))]  # noqa: B023
                totals = [t + r for t, r in zip(totals, row, strict=True)]
                size = len(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)) / 1000
                print(f"{folder.name:28} {row[0]:12.2f} {row[1]:8.2f} {row[2]:10.2f} {row[3]:12.2f} {size:8.1f}")
        print(f"{'all':28} {totals[0]:12.2f} {totals[1]:8.2f} {totals[2]:10.2f} {totals[3]:12.2f}")
        print(f"a hit costs {totals[1] / totals[0]:.1%} of validating; a miss adds {totals[2] / totals[0]:.1%}")


if __name__ == "__main__":
    main()
