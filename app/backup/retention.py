"""Which archives a prune keeps: the newest of each of the last N days, ISO weeks and months (the
grandfather-father-son scheme of borg's and restic's ``--keep-daily/--keep-weekly/--keep-monthly``).

Written here rather than taken from a library: it is twenty lines over archive names we write ourselves, and
the libraries that do it (rotate-backups) bring a file-name date parser and a CLI we would not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .archive import ARCHIVE_NAME


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


def archives_in(folder: Path) -> dict[Path, tuple[datetime, int]]:
    """The backup archives in ``folder``: the time in their name and their number within that second (a
    second archive in one second is ``-2``). Other files are never touched."""
    found = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        match = ARCHIVE_NAME.fullmatch(path.name)
        if match and path.is_file():
            at = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            found[path] = (at, int(match.group(2) or 1))
    return found


def to_keep(archives: dict[Path, tuple[datetime, int]], policy: Policy) -> set[Path]:
    """The newest archive is always kept, whatever the policy says."""
    newest_first = sorted(archives, key=lambda p: archives[p], reverse=True)
    buckets: list[tuple[int, Callable[[datetime], object]]] = [
        (policy.daily, lambda t: t.date()),
        (policy.weekly, lambda t: t.isocalendar()[:2]),
        (policy.monthly, lambda t: (t.year, t.month)),
    ]
    keep = set(newest_first[:1])
    for count, bucket in buckets:
        seen: list[object] = []
        for path in newest_first:
            key = bucket(archives[path][0])
            if len(seen) >= count:
                break
            if key not in seen:
                seen.append(key)
                keep.add(path)
    return keep


def prune(folder: Path, policy: Policy, dry_run: bool = False) -> tuple[list[Path], list[Path]]:
    """Delete the archives the policy does not keep; return (kept, deleted), oldest first."""
    archives = archives_in(folder)
    keep = to_keep(archives, policy)
    ordered: Iterable[Path] = sorted(archives, key=lambda p: archives[p])
    kept, deleted = [], []
    for path in ordered:
        if path in keep:
            kept.append(path)
        else:
            if not dry_run:
                path.unlink()
            deleted.append(path)
    return kept, deleted
