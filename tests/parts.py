"""Report files written by several tests on several xdist workers (the accessibility walk's summary, the
fuzz runs' counts): each test keeps its own part beside the report, and the report is rewritten from
every part of this run, under a lock, after each test. Whichever test ends last leaves it whole; a
run starts by forgetting the parts an earlier run left (``forget_parts``, tests/conftest.py)."""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

PARTS = "parts"


def add_part(directory: Path, name: str, value: Any, write: Callable[[list[tuple[str, Any]]], None]) -> None:
    """Keep ``value`` (JSON) as ``directory/parts/<name>.json``, then ``write`` the report from every part
    (name, value), ordered by name."""
    parts = directory / PARTS
    parts.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (parts / f"{name}.json").write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        write([(path.stem, json.loads(path.read_text(encoding="utf-8")))
               for path in sorted(parts.glob("*.json"), key=lambda path: path.stem)])


def forget_parts(*directories: Path) -> None:
    """A run starts: the parts an earlier run left must not enter this run's reports."""
    for directory in directories:
        shutil.rmtree(directory / PARTS, ignore_errors=True)
