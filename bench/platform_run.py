"""The platform measured through its service layer, one transaction per completion (like a request).

Timed region of a completion: ``app.workflow.commands.complete(task, user, data)`` + ``db.session.commit()``.
Every completion and case start runs in a fresh session (``db.session.remove()`` after each, as the
end of a request does), so nothing is served from a warm identity map. Loading the task row and the
acting user (what the view and the bearer-token check do first) happen in that session just before
the timed region. Instruments: SQL statements and cursor time (SQLAlchemy cursor events), time in
``app.engine`` and form validation (wrappers installed for the run), ``process_spec`` row fetches.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

import sqlalchemy as sa
from stats import Samples
from workload import CHAIN_START, MainStep, chain_files, chain_step_id, chain_user, report_body

import app.engine
import app.workflow.commands
from app import create_app

SPEC_CONTENT = re.compile(r"process_spec(_\d+)?\.(files|forms|spec_json|user_tasks)\b")
"""A statement reading the large columns of ``process_spec`` (the whole row, before they were deferred)."""


@dataclass
class Counters:
    statements: int = 0
    sql_seconds: float = 0.0
    engine_seconds: float = 0.0
    form_seconds: float = 0.0
    spec_loads: int = 0
    flushes: int = 0

    def snapshot(self) -> tuple[int, float, float, float, int, int]:
        return (self.statements, self.sql_seconds, self.engine_seconds, self.form_seconds, self.spec_loads,
                self.flushes)


@dataclass
class Breakdown:
    """Sums over the timed completions, to print as mean ms per completion."""

    total: float = 0.0
    cpu: float = 0.0
    engine: float = 0.0
    forms: float = 0.0
    sql: float = 0.0
    commit: float = 0.0
    statements: int = 0
    spec_loads: int = 0
    flushes: int = 0
    count: int = 0


@dataclass
class PlatformResult:
    database: str
    starts: Samples
    completions: Samples
    start_statements: list[int] = field(default_factory=list)
    per_step: dict[str, Samples] = field(default_factory=dict)
    per_step_statements: dict[str, int] = field(default_factory=dict)
    breakdown: Breakdown = field(default_factory=Breakdown)
    spec_row_bytes: int = 0
    chain_times: list[list[float]] = field(default_factory=list)
    chain_breakdown: Breakdown = field(default_factory=Breakdown)
    chain_spec_row_bytes: int = 0
    chain_sizes: dict[int, int] = field(default_factory=dict)
    chain_stored_sizes: dict[int, int] = field(default_factory=dict)
    stored_trip: Any = None
    """The stored round trip (``baselines.MainResult``) measured on this database, right before the platform."""


def _spec_row_bytes(spec: Any) -> int:
    return sum(len(json.dumps(v, ensure_ascii=False).encode("utf-8"))
               for v in (spec.files, spec.forms, spec.spec_json, spec.user_tasks))


class Platform:
    """One app on one database (``"sqlite"`` for a temporary file, or a prepared PostgreSQL URL)."""

    def __init__(self, database_url: str):
        self.tmp = tempfile.TemporaryDirectory(prefix="liandong-bench-")
        if database_url == "sqlite":
            database_url = f"sqlite:///{Path(self.tmp.name) / 'bench.db'}"
        self.app = create_app({"database_url": database_url, "instance_dir": Path(self.tmp.name) / "instance",
                               "secret_key": "bench"})
        self.counters = Counters()
        self._restore: list[tuple[Any, str, Any]] = []
        self._users: dict[str, Any] = {}

    @contextmanager
    def context(self) -> Iterator[None]:
        from flask_migrate import upgrade

        from app.extensions import db

        with self.app.app_context():
            upgrade()
            self.dialect = db.engine.dialect.name
            self._instrument(db.engine)
            try:
                yield
            finally:
                for obj, name, original in self._restore:
                    if obj is None:
                        original()
                    else:
                        setattr(obj, name, original)
                db.session.remove()
                db.engine.dispose()
        self.tmp.cleanup()

    def _wrap(self, obj: Any, name: str, attr: str) -> None:
        original = getattr(obj, name)
        counters = self.counters

        def timed(*args: Any, **kw: Any) -> Any:
            t0 = perf_counter()
            try:
                return original(*args, **kw)
            finally:
                setattr(counters, attr, getattr(counters, attr) + perf_counter() - t0)

        setattr(obj, name, timed)
        self._restore.append((obj, name, original))

    def _instrument(self, engine: sa.Engine) -> None:
        c = self.counters

        @sa.event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            c.statements += 1
            if statement.startswith("SELECT") and SPEC_CONTENT.search(statement):
                c.spec_loads += 1  # BPMN sources, forms, parsed spec or user tasks (deferred: read on a cache miss)
            conn.info["bench_t0"] = perf_counter()

        @sa.event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            c.sql_seconds += perf_counter() - conn.info.pop("bench_t0", perf_counter())

        @sa.event.listens_for(sa.orm.Session, "after_flush")
        def flushed(session: Any, context: Any) -> None:
            c.flushes += 1  # flushes that wrote something (an empty flush does not fire the event)

        self._restore.append((None, "flush listener", lambda: sa.event.remove(sa.orm.Session, "after_flush", flushed)))
        self._wrap(app.engine, "complete_task", "engine_seconds")
        self._wrap(app.engine, "start_instance", "engine_seconds")
        self._wrap(app.workflow.commands, "validate_form_data", "form_seconds")

    def setup_demo(self) -> None:
        from app.cli import deploy_shipped
        from app.extensions import db
        from app.org.demo import load_demo

        load_demo()
        deploy_shipped("bench")
        db.session.commit()

    def _user(self, username: str) -> Any:
        """The acting user, loaded in this request's session (as the bearer-token check does)."""
        from app.extensions import db
        from app.org.models import User
        from app.org.queries import user_by_username

        if username not in self._users:
            found = user_by_username(username)
            assert found is not None, username
            self._users[username] = found.id
        return db.session.get(User, self._users[username])

    def _open_task(self, where: Any) -> Any:
        from app.extensions import db
        from app.tasks.models import Task

        task = db.session.scalar(sa.select(Task).where(where, Task.state == "open"))
        assert task is not None
        return task

    def start_case(self, n: int) -> tuple[int, float, int]:
        """accept_report + commit for case ``n`` in a fresh session: (case id, seconds, statements)."""
        from app.cases.operations import accept_report
        from app.cases.schemas import ReportIn
        from app.extensions import db

        body = ReportIn().load(report_body(n))
        reporter = self._user("reporter_school")
        s0 = self.counters.statements
        t0 = perf_counter()
        case, created = accept_report(body, reporter)
        db.session.commit()
        elapsed = perf_counter() - t0
        assert created
        case_id = case.id
        db.session.remove()
        return case_id, elapsed, self.counters.statements - s0

    def complete(self, where: Any, username: str, data: dict[str, Any], into: Breakdown | None) -> tuple[float, int]:
        """complete + commit of the open task matching ``where``, in a fresh session: (seconds, statements)."""
        from app.extensions import db

        task = self._open_task(where)
        user = self._user(username)
        c = self.counters
        before = c.snapshot()
        cpu0 = process_time()
        t0 = perf_counter()
        app.workflow.commands.complete(task, user, data)
        t1 = perf_counter()
        sql_before_commit = c.sql_seconds
        db.session.commit()
        t2 = perf_counter()
        cpu = process_time() - cpu0
        db.session.remove()
        statements, sql, eng, forms, specs, flushes = (a - b for a, b in zip(c.snapshot(), before, strict=True))
        if into is not None:
            into.count += 1
            into.total += t2 - t0
            into.cpu += cpu
            into.engine += eng
            into.forms += forms
            into.sql += sql
            into.commit += (t2 - t1) - (c.sql_seconds - sql_before_commit)
            into.statements += statements
            into.spec_loads += specs
            into.flushes += int(flushes)
        return t2 - t0, int(statements)

    def run_main(self, steps: list[MainStep], cases: int, warmup: int,
                 progress: Callable[[str], None]) -> PlatformResult:
        from app.cases.models import Case
        from app.extensions import db
        from app.processes.queries import current_spec
        from app.tasks.models import Task

        spec = current_spec("four_in_one")
        assert spec is not None
        result = PlatformResult(self.dialect, Samples(f"platform {self.dialect}: start"),
                                Samples(f"platform {self.dialect}: complete"))
        result.spec_row_bytes = _spec_row_bytes(spec)
        result.per_step = {s.bpmn_id: Samples(s.bpmn_id) for s in steps}
        db.session.remove()
        for n in range(warmup + cases):
            keep = n >= warmup
            case_id, seconds, statements = self.start_case(n)
            if keep:
                result.starts.add(seconds)
                result.start_statements.append(statements)
            for step in steps:
                seconds, statements = self.complete(
                    sa.and_(Task.case_id == case_id, Task.bpmn_id == step.bpmn_id), step.username,
                    dict(step.data), result.breakdown if keep else None)
                if keep:
                    result.completions.add(seconds)
                    result.per_step[step.bpmn_id].add(seconds)
                    result.per_step_statements.setdefault(step.bpmn_id, statements)
            if db.session.get(Case, case_id).status != "closed":
                raise RuntimeError(f"case {case_id} did not close")
            db.session.remove()
            if (n + 1) % 100 == 0:
                progress(f"  {self.dialect}: {n + 1}/{warmup + cases} cases")
        return result

    def run_chain(self, result: PlatformResult, n_steps: int, instances: int,
                  progress: Callable[[str], None]) -> None:
        from app.cases.models import Case
        from app.extensions import db
        from app.processes.models import ProcessInstance, ProcessSpec
        from app.processes.operations import deploy
        from app.tasks.models import Task
        from app.workflow import commands as runtime

        spec = deploy(chain_files(n_steps), forms={}, note="bench chain")
        db.session.commit()
        result.chain_spec_row_bytes = _spec_row_bytes(spec)
        spec_id = spec.id
        db.session.remove()
        township = chain_user()
        for k in range(instances):
            case_id, _, _ = self.start_case(900_000 + k)
            case, spec = db.session.get(Case, case_id), db.session.get(ProcessSpec, spec_id)
            instance = runtime.start(case, spec, dict(CHAIN_START), self._user("reporter_school"))
            db.session.commit()
            instance_id = instance.id
            db.session.remove()
            times = []
            for i in range(1, n_steps + 1):
                seconds, _ = self.complete(sa.and_(Task.instance_id == instance_id, Task.bpmn_id == chain_step_id(i)),
                                           township, {}, result.chain_breakdown)
                times.append(seconds)
                if k == 0:
                    row = db.session.execute(sa.select(ProcessInstance.state).where(
                        ProcessInstance.id == instance_id)).scalar_one()
                    result.chain_sizes[i] = len(row.encode("utf-8"))
                    if self.dialect == "postgresql":
                        result.chain_stored_sizes[i] = db.session.execute(sa.text(
                            "SELECT pg_column_size(state) FROM process_instance WHERE id = :id"),
                            {"id": instance_id}).scalar_one()
                    db.session.remove()
            result.chain_times.append(times)
            progress(f"  {self.dialect}: chain instance {k + 1}/{instances}")
