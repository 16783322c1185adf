#!/usr/bin/env python
"""HTTP throughput of the production stack: report -> inbox -> claim -> complete (see bench/README.md).

    .venv/bin/python bench/load.py                                  # this tree, 1, 8 and 32 clients
    .venv/bin/python bench/load.py --baseline /tmp/perfbase         # and an older tree, side by side
    .venv/bin/python bench/load.py --clients 8 --seconds 10         # a quick look

Each tree is served as ``make serve`` serves it (deploy/serve.sh: migrations, gunicorn with
deploy/gunicorn.conf.py, one RQ worker, the cron) on PostgreSQL and Redis, from a database this script
empties first (its name must contain ``bench``). Clients are threads of this process, each with its own
keep-alive connection, each driving cases of the benchmark's main path one after another: file the report,
then for every step list the unit's inbox as the unit's liaison, claim the case's task and complete it.
Printed: completions per second for each client count, and the ratio to the baseline measured in the
same run. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from stack_cpu import PARTS, StackCpu  # noqa: E402
from stats import Samples, table  # noqa: E402
from task_completion import prepare_postgres  # noqa: E402
from workload import MainStep, main_path, report_body  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
REPORTER = "reporter_school"
KINDS = ("report", "inbox", "claim", "complete")
START_SECONDS = 600
"""How long the stack may take to answer /healthz: five workers importing the app take minutes at load 15."""

TOKENS = """
import sys
from app import create_app
from app.extensions import db
from app.org.operations import issue_token
from app.org.queries import user_by_username
app = create_app()
with app.app_context():
    for name in sys.argv[1:]:
        print(name, issue_token(user_by_username(name), name="bench-load"))
    db.session.commit()
"""
"""Run inside the served tree: one bearer token per user the load acts as."""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Level:
    clients: int
    seconds: float = 0.0
    completions: int = 0
    cases: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    complete: Samples = field(default_factory=lambda: Samples("complete"))
    request: Samples = field(default_factory=lambda: Samples("request"))
    kinds: dict[str, Samples] = field(default_factory=lambda: {k: Samples(k) for k in KINDS})
    """Each request of the loop on its own (report, inbox, claim, complete): where the time goes."""
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    """CPU seconds each part of the stack used in the measured seconds (``stack_cpu.py``)."""
    busiest_web: list[float] = field(default_factory=list)
    """Per round: the share of the web CPU the busiest gunicorn process used (``StackCpu.web_shares``)."""

    @property
    def per_second(self) -> float:
        return self.completions / self.seconds if self.seconds else 0.0

    def cpu_ms(self, part: str | None = None) -> float:
        """CPU milliseconds per completion, of one part or of the whole stack."""
        used = sum(self.cpu.values()) if part is None else self.cpu[part]
        return used * 1000 / self.completions if self.completions else float("nan")


class Stack:
    """One tree served by deploy/serve.sh on an emptied database."""

    def __init__(self, root: Path, database_url: str, redis_url: str, port: int, workdir: Path,
                 web: tuple[int, int] | None = None, extra_env: dict[str, str] | None = None):
        self.root, self.port = root, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                    "PYTHONPATH": str(root), "FLASK_APP": "app:create_app", "LIANDONG_BIN": str(ROOT / ".venv/bin"),
                    "LIANDONG_WEB_BIND": f"127.0.0.1:{port}", "LIANDONG_INSTANCE_DIR": str(workdir / "instance"),
                    "LIANDONG_SECRET_KEY": "bench-load", "LIANDONG_LOG_FORMAT": "json"}
        for name in ("LIANDONG_WEB_WORKERS", "LIANDONG_WEB_THREADS"):
            self.env.pop(name, None)
        if web:
            self.env["LIANDONG_WEB_WORKERS"], self.env["LIANDONG_WEB_THREADS"] = (str(n) for n in web)
        self.env.update(extra_env or {})
        # The workers' own accounting (deploy/gunicorn.conf.py; a tree whose config predates it ignores the setting).
        self.account_dir = workdir / "account"
        if "LIANDONG_WEB_PROFILE_DIR" not in self.env:
            self.account_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.account_dir.glob("account-*.json"):
                stale.unlink()
            self.env["LIANDONG_WEB_ACCOUNT_DIR"] = str(self.account_dir)
        self.log = open(workdir / f"serve-{port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu: StackCpu | None = None

    def _flask(self, *args: str) -> str:
        out = subprocess.run([str(ROOT / ".venv/bin/flask"), *args], cwd=self.root, env=self.env, check=True,
                             capture_output=True, text=True)
        return out.stdout

    def prepare(self, users: list[str]) -> dict[str, str]:
        """Empty the database, migrate, load the demo county, and return a token per user."""
        prepare_postgres(self.env["DATABASE_URL"])
        subprocess.run(["redis-cli", "-u", self.env["REDIS_URL"], "FLUSHDB"], check=True, capture_output=True)
        self._flask("db", "upgrade")
        self._flask("demo", "load")
        out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", TOKENS, *users], cwd=self.root, env=self.env,
                             check=True, capture_output=True, text=True).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())

    def start(self) -> None:
        self.proc = subprocess.Popen(["bash", "deploy/serve.sh"], cwd=self.root, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.cpu = StackCpu(self.proc.pid, self.env["DATABASE_URL"])
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve.sh ended ({self.proc.returncode}); see {self.log.name}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer within {START_SECONDS} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # serve.sh stops gunicorn, the worker and the cron gracefully
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only what this script started
                self.proc.wait()
        self.log.close()

    def accounts(self) -> list[dict[str, Any]]:
        """What each gunicorn worker wrote when it exited (``LIANDONG_WEB_ACCOUNT_DIR``): requests served, CPU inside
        them, CPU before the first (start-up), the whole process's CPU. Empty when the tree does not write them."""
        return [json.loads(f.read_text()) for f in sorted(self.account_dir.glob("account-*.json"))]


def in_process_app(database_url: str, redis_url: str, workdir: Path, users: list[str]) -> tuple[Any, dict[str, str]]:
    """The stack prepared as ``Stack.prepare`` prepares it (the database emptied, Redis FLUSHDB'd, the demo county, a
    token per user) and the app created in this process with the served stack's settings, its log lines still made
    but written nowhere: (app, token per user), for the scripts that measure requests in-process."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(ROOT, database_url, redis_url, 0, workdir)
    tokens = stack.prepare(users)
    stack.log.close()
    os.environ.update({k: v for k, v in stack.env.items() if k.startswith("LIANDONG_") or k.endswith("_URL")})
    os.environ["LIANDONG_LOG_FORMAT"] = "json"

    import logging

    from app import create_app

    app = create_app()
    handler: Any = logging.getLogger().handlers[0]
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - the log lines are still made
    return app, tokens


class Client(threading.Thread):
    """One user agent: cases of the main path one after another until ``stop`` is set."""

    numbers = itertools.count()

    def __init__(self, base: str, tokens: dict[str, str], steps: list[MainStep], level: Level,
                 lock: threading.Lock, stop: threading.Event, counting: threading.Event, tag: str):
        super().__init__(daemon=True)
        self.base, self.tokens, self.steps, self.level = base, tokens, steps, level
        self.lock, self.stop, self.counting, self.tag = lock, stop, counting, tag
        self.http = requests.Session()

    def _call(self, kind: str, method: str, path: str, user: str, **kw: Any) -> Any:
        t0 = time.perf_counter()
        resp = self.http.request(method, self.base + path, headers={"Authorization": f"Bearer {self.tokens[user]}"},
                                 timeout=60, **kw)
        elapsed = time.perf_counter() - t0
        if self.counting.is_set():
            with self.lock:
                self.level.request.add(elapsed)
                self.level.kinds[kind].add(elapsed)
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {path.split('?')[0]} -> {resp.status_code}")
        return resp.json()

    def _task_of(self, case_id: int, step: MainStep) -> int:
        inbox = self._call("inbox", "GET", "/api/v1/tasks?per_page=50", step.username)["items"]
        found = [t["id"] for t in inbox if t["case_id"] == case_id and t["bpmn_id"] == step.bpmn_id]
        if not found:  # a busy unit: more than a page of open tasks
            inbox = self._call("inbox", "GET", f"/api/v1/tasks?case_id={case_id}", step.username)["items"]
            found = [t["id"] for t in inbox if t["bpmn_id"] == step.bpmn_id]
        if not found:
            raise RuntimeError(f"{step.bpmn_id} is not in {step.username}'s inbox")
        return int(found[0])

    def one_case(self) -> None:
        n = next(self.numbers)
        body = report_body(n)
        body["child"]["id_number"] = f"37000020150601{n % 10000:04d}"
        body["idempotency_key"] = f"bench-load-{self.tag}-{n:08d}"
        case_id = self._call("report", "POST", "/api/v1/reports", REPORTER, json=body)["case_id"]
        for step in self.steps:
            task_id = self._task_of(case_id, step)
            self._call("claim", "POST", f"/api/v1/tasks/{task_id}/claim", step.username)
            t0 = time.perf_counter()
            self._call("complete", "POST", f"/api/v1/tasks/{task_id}/complete", step.username, json={"data": dict(step.data)})
            if self.counting.is_set():
                with self.lock:
                    self.level.completions += 1
                    self.level.complete.add(time.perf_counter() - t0)
        if self.counting.is_set():
            with self.lock:
                self.level.cases += 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.one_case()
            except Exception as exc:  # noqa: BLE001 - counted and shown; the client goes on with a new case
                with self.lock:
                    key = str(exc)[:120]
                    self.level.errors[key] = self.level.errors.get(key, 0) + 1
                time.sleep(0.2)


def drive(base: str, tokens: dict[str, str], steps: list[MainStep], clients: int, seconds: float,
          warmup: float, tag: str, cpu: StackCpu | None = None) -> Level:
    """``clients`` threads for ``warmup`` + ``seconds``; completions (and the stack's CPU) are counted in the
    last ``seconds``."""
    level, lock, stop, counting = Level(clients), threading.Lock(), threading.Event(), threading.Event()
    threads = [Client(base, tokens, steps, level, lock, stop, counting, f"{tag}{clients}-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    before = cpu.snapshot() if cpu else {}
    counting.set()
    t0 = time.perf_counter()
    time.sleep(seconds)
    counting.clear()
    level.seconds = time.perf_counter() - t0
    if cpu:
        after = cpu.snapshot()
        level.cpu = cpu.since(before, after)
        level.busiest_web = cpu.web_shares(before, after)[:1]
    stop.set()
    for t in threads:
        t.join(90)
    return level


def run_tree(name: str, root: Path, args: argparse.Namespace, steps: list[MainStep], port: int,
             web: tuple[int, int] | None, accounts: list[list[dict[str, Any]]] | None = None) -> list[Level]:
    workdir = Path(args.workdir) / name.replace(" ", "-")
    workdir.mkdir(parents=True, exist_ok=True)
    baseline = name == "baseline"
    stack = Stack(root, (baseline and args.baseline_database_url) or args.database_url,
                  (baseline and args.baseline_redis_url) or args.redis_url, port, workdir, web,
                  dict(args.baseline_env if baseline else args.env))
    users = sorted({REPORTER, *(s.username for s in steps)})
    progress(f"{name}: preparing {root} ...")
    tokens = stack.prepare(users)
    levels = []
    try:
        stack.start()  # inside the try: a stack that never answers is stopped too
        for clients in args.clients:
            progress(f"{name}: {clients} clients for {args.warmup:.0f} + {args.seconds:.0f} s ...")
            level = drive(stack.base, tokens, steps, clients, args.seconds, args.warmup, name[:1], stack.cpu)
            progress(f"{name}: {clients} clients: {level.per_second:.1f} completions/s, {level.cpu_ms():.0f} CPU ms "
                     f"per completion, busiest web process {_shares(level.busiest_web)} of the web CPU, "
                     f"load {os.getloadavg()[0]:.1f}, errors {level.errors}")
            levels.append(level)
    finally:
        stack.stop()
        if accounts is not None:
            accounts.append(stack.accounts())
    return levels


def account_rows(name: str, rounds: list[list[dict[str, Any]]]) -> list[str]:
    """One row per round: requests per worker, CPU ms per request inside the app and in gunicorn itself."""
    rows = []
    for r, workers in enumerate(rounds, 1):
        served = sum(w["requests"] for w in workers)
        if not served:
            rows.append([name, str(r), "-", "-", "-", "-"])
            continue
        inside = sum(w["request_cpu"] for w in workers)
        own = sum(w["process_cpu"] - w["request_cpu"] - (w["startup_cpu"] or w["process_cpu"]) for w in workers
                  if w["requests"])
        startup = [w["startup_cpu"] for w in workers if w["startup_cpu"] is not None]
        rows.append([name, str(r), "/".join(str(w["requests"]) for w in workers), f"{inside * 1000 / served:.2f}",
                     f"{own * 1000 / served:.2f}", f"{sum(startup) / len(startup):.1f}" if startup else "-"])
    return rows


def _shares(shares: list[float]) -> str:
    return ",".join(f"{share:.0%}" for share in shares) or "-"


def merged(runs: list[list[Level]]) -> list[Level]:
    """Rounds of one tree added up per client count (completions and seconds summed, samples pooled)."""
    out = []
    for same in zip(*runs, strict=True):
        total = Level(same[0].clients)
        for lv in same:
            total.seconds += lv.seconds
            total.completions += lv.completions
            total.cases += lv.cases
            total.complete.values += lv.complete.values
            total.request.values += lv.request.values
            for k in KINDS:
                total.kinds[k].values += lv.kinds[k].values
            for k, v in lv.errors.items():
                total.errors[k] = total.errors.get(k, 0) + v
            for k, v in lv.cpu.items():
                total.cpu[k] += v
            total.busiest_web += lv.busiest_web
        out.append(total)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT), help="the tree to serve (default: this one)")
    parser.add_argument("--baseline", help="another tree (e.g. a `git worktree add` of an older commit) served "
                        "the same way first, for the ratio")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per client count")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds run first at each count, not counted")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="a Redis database the script may FLUSHDB")
    parser.add_argument("--baseline-database-url", help="the baseline's database (default: --database-url)")
    parser.add_argument("--baseline-redis-url", help="the baseline's Redis database (default: --redis-url)")
    parser.add_argument("--rounds", type=int, default=1, help="measure each tree this many times, alternating")
    parser.add_argument("--port", type=int, default=8291)
    parser.add_argument("--web", type=lambda s: tuple(int(x) for x in s.split("x")),
                        help="WORKERSxTHREADS for this tree's gunicorn (default: what the tree's config sets)")
    parser.add_argument("--baseline-web", type=lambda s: tuple(int(x) for x in s.split("x")),
                        help="WORKERSxTHREADS for the baseline's gunicorn")
    parser.add_argument("--env", action="append", default=[], type=lambda s: tuple(s.split("=", 1)),
                        metavar="NAME=VALUE", help="a setting for this tree's stack only (repeatable), e.g. "
                        "LIANDONG_WEB_ACCESS_LOG=off")
    parser.add_argument("--baseline-env", action="append", default=[], type=lambda s: tuple(s.split("=", 1)),
                        metavar="NAME=VALUE", help="a setting for the baseline's stack only (repeatable)")
    parser.add_argument("--workdir", default="/tmp/liandong-bench-load", help="instance folders and server logs")
    args = parser.parse_args()
    for url in filter(None, (args.database_url, args.baseline_database_url)):
        if "bench" not in url.rsplit("/", 1)[-1]:
            parser.error("the benchmark DROPs the public schema: use a database named *bench*")

    _, steps = main_path()
    trees = ([("baseline", Path(args.baseline))] if args.baseline else []) + [("this tree", Path(args.root))]
    webs = {"baseline": args.baseline_web, "this tree": args.web}
    started = time.perf_counter()
    print(f"env: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, {args.seconds:.0f} s measured per "
          f"client count after {args.warmup:.0f} s warm-up, {args.rounds} round(s); database {args.database_url.split('@')[-1]}; "
          f"{len(steps)} completions per case; gunicorn workers x threads: " + ", ".join(
              f"{name} {'x'.join(map(str, webs[name])) if webs[name] else 'as its deploy/gunicorn.conf.py sets them'}"
              for name, _ in trees) + "".join(
              f"; {name} with {' '.join('='.join(pair) for pair in pairs)}"
              for name, pairs in (("baseline", args.baseline_env), ("this tree", args.env)) if pairs))
    # Rounds alternate the order (A B, B A, ...) so that a machine getting busier during the run does not
    # favour the tree measured first; every tree starts from an emptied database each round.
    runs: dict[str, list[list[Level]]] = {name: [] for name, _ in trees}
    accounts: dict[str, list[list[dict[str, Any]]]] = {name: [] for name, _ in trees}
    for r in range(args.rounds):
        for k, (name, root) in enumerate(trees if r % 2 == 0 else trees[::-1]):
            runs[name].append(run_tree(name, root, args, steps, args.port + k, webs[name], accounts[name]))
    results = {name: merged(rounds) for name, rounds in runs.items()}

    head = ["clients"]
    for name, _ in trees:
        head += [f"{name}: completions/s", "complete p50 ms", "request p50 ms", "errors"]
    if args.baseline:
        head.append("this / baseline")
    rows = []
    for i, clients in enumerate(args.clients):
        row = [str(clients)]
        for name, _ in trees:
            lv = results[name][i]
            row += [f"{lv.per_second:.1f}", f"{lv.complete.ms(50):.1f}", f"{lv.request.ms(50):.1f}",
                    str(sum(lv.errors.values()))]
        if args.baseline:
            base, this = results["baseline"][i].per_second, results["this tree"][i].per_second
            row.append(f"{this / base:.2f}x" if base else "n/a")
        rows.append(row)
    print()
    print("== report -> inbox -> claim -> complete over HTTP (gunicorn, PostgreSQL, Redis, RQ worker) ==")
    print(table(head, rows))
    print()
    print("== p50 ms of each request of the loop ==")
    head = ["clients"] + [f"{name}: {k}" if j == 0 else k for name, _ in trees for j, k in enumerate(KINDS)]
    print(table(head, [[str(clients)] + [f"{results[name][i].kinds[k].ms(50):.1f}" for name, _ in trees for k in KINDS]
                       for i, clients in enumerate(args.clients)]))
    print()
    print("== CPU ms per completion, by part of the stack (web = gunicorn, rq = the RQ worker; Redis not counted) ==")
    head = ["clients"] + [f"{name}: {p}" if j == 0 else p for name, _ in trees for j, p in enumerate((*PARTS, "total"))]
    if args.baseline:
        head.append("this / baseline CPU")
    head += [f"{name}: busiest web process" for name, _ in trees]
    rows = []
    for i, clients in enumerate(args.clients):
        row = [str(clients)] + [f"{results[name][i].cpu_ms(p):.1f}" for name, _ in trees for p in (*PARTS, None)]
        if args.baseline:
            row.append(f"{results['this tree'][i].cpu_ms() / results['baseline'][i].cpu_ms():.2f}x")
        row += [_shares(results[name][i].busiest_web) for name, _ in trees]
        rows.append(row)
    print(table(head, rows))
    print()
    print("== gunicorn's workers over each round (warm-ups and every client count): CPU per request inside the app "
          "(pre_request to post_request) and in gunicorn itself (the rest, start-up left out) ==")
    print(table(["tree", "round", "requests per worker", "in-request CPU ms / request", "gunicorn's own CPU ms / "
                 "request", "start-up CPU s / worker"],
                [row for name, _ in trees for row in account_rows(name, accounts[name])]))
    print()
    print(f"total run time {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
