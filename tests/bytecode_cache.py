"""Compiled modules kept between test runs, outside the source tree (imported first by tests/conftest.py).

Where ``PYTHONDONTWRITEBYTECODE`` is set (this host sets it, so that no ``__pycache__`` lands in the
checkouts), every run compiled the app and every test module again, and pytest rewrote the asserts of
every test module again: 7.5 s of CPU per process, paid again by each xdist worker. The run writes them
under ``test-output/pyc`` instead (``sys.pycache_prefix``: a mirror tree, nothing beside the sources);
subprocesses the tests start (the CLI, gunicorn, workers) inherit it. A prefix already chosen is kept.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PREFIX = Path(__file__).resolve().parent.parent / "test-output" / "pyc"

if sys.pycache_prefix is None:
    sys.pycache_prefix = str(PREFIX)
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = str(PREFIX)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
