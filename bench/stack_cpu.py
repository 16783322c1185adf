"""CPU seconds of a served stack by part, read from /proc (Linux): what one HTTP loop costs the whole machine.

Completions per second on a shared 2-core host move with whatever else runs; the CPU the stack itself burns per
completion does much less, so ``bench/load.py`` prints both. The parts:

- ``web``: gunicorn's master and workers; ``rq``: the RQ worker (``flask worker``) and its children;
  ``cron``: ``flask cron``; ``other``: the rest of serve.sh's session (bash itself). All of them are the processes
  of the session ``deploy/serve.sh`` leads (``load.py`` starts it with ``start_new_session``).
- ``postgres``: the server backends connected to the stack's database (``pg_stat_activity``), read by pid; a
  backend that ended inside the window is missed (the pools keep theirs, so few do).
- ``client``: the load script's own process (its client threads), from ``getrusage``.

Redis is shared by every engineer on the host and is not counted: its CPU is not the stack's alone.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")
PARTS = ("web", "rq", "cron", "other", "postgres", "client")


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent pid, session id, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _part(cmdline: str) -> str:
    if "gunicorn" in cmdline:
        return "web"
    if " worker" in cmdline:
        return "rq"
    if " cron" in cmdline:
        return "cron"
    return "other"


class StackCpu:
    """Snapshots of the CPU seconds of one stack's processes; ``since(before)`` gives the seconds per part."""

    def __init__(self, session_id: int, database_url: str) -> None:
        self.session_id = session_id
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://")

    def _backends(self) -> list[int]:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid()").fetchall()
        except psycopg.Error:
            return []
        return [int(r[0]) for r in rows]

    def snapshot(self) -> dict[tuple[str, int], float]:
        """CPU seconds so far by (part, pid); the client under pid 0."""
        out: dict[tuple[str, int], float] = {}
        parents: dict[int, int] = {}
        session: dict[int, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == self.session_id:
                parents[int(entry.name)] = stat[0]
                session[int(entry.name)] = stat[2]
        for pid, seconds in session.items():
            part, up = _part(_cmdline(pid)), parents.get(pid)
            while part == "other" and up in session:  # a forked child (an isolation pool worker) counts as its parent
                part, up = _part(_cmdline(up)), parents.get(up)
            out[(part, pid)] = seconds
        for pid in self._backends():
            stat = _stat(pid)
            if stat is not None:
                out[("postgres", pid)] = stat[2]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out[("client", 0)] = usage.ru_utime + usage.ru_stime
        return out

    @staticmethod
    def since(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> dict[str, float]:
        """CPU seconds by part between two snapshots (a process that started in between counts from zero)."""
        used = dict.fromkeys(PARTS, 0.0)
        for key, seconds in after.items():
            used[key[0]] += max(0.0, seconds - before.get(key, 0.0))
        return used

    @staticmethod
    def web_shares(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> list[float]:
        """Each gunicorn process's share of the web CPU between two snapshots, largest first (the master's is
        ~0). gthread workers keep a keep-alive connection for its whole life and all of them poll one listening
        socket, so one worker can take every client's connection and serve the load on one core while the other
        idles: the share says whether a run was served by one process or by all (bench/README.md, session 18)."""
        used = [max(0.0, seconds - before.get(key, 0.0)) for key, seconds in after.items() if key[0] == "web"]
        total = sum(used)
        return sorted((u / total for u in used), reverse=True) if total else []
