"""Baselines: bare SpiffWorkflow in memory, its state round trip (in memory and stored), ``app.engine`` alone.

* bare: SpiffWorkflow as its own documentation uses it -- one parsed spec, one live
  ``BpmnWorkflow`` per case, default script engine, no serialization.
* round trip: bare SpiffWorkflow that reloads its state and saves it on every step, as any
  durable use of the engine must: the spec parsed once and cached, per step the state JSON
  (without the spec) loaded with SpiffWorkflow's own serializer, the task run, the engine run to
  the next wait, the state serialized back to JSON text. Default script engine, no database.
* stored round trip: the same, with each instance's state kept in one row of the platform run's own
  database (one SELECT, the step, one UPDATE, one COMMIT): the floor for a database-backed platform.
* engine: ``app.engine.start_instance`` / ``complete_task`` exactly as the platform calls them,
  including the JSON round trip of the state on every step (restricted script engine, spec
  cache, snapshot for the projections), but no database, forms, timeline or audit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter  # noqa: TID251 - the baseline
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: TID251 - the baseline itself
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: TID251 - the baseline itself
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: TID251 - the baseline itself
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: TID251 - the baseline itself
from SpiffWorkflow.util.task import TaskState  # noqa: TID251 - the baseline itself
from stats import Samples
from workload import MainStep, chain_step_id

from app import engine


@dataclass
class MainResult:
    starts: Samples
    completions: Samples
    per_step: dict[str, Samples] = field(default_factory=dict)
    state_bytes: dict[str, int] = field(default_factory=dict)
    """Stored state size after each step (app.engine only; one case)."""

    def add(self, bpmn_id: str, seconds: float) -> None:
        self.completions.add(seconds)
        self.per_step.setdefault(bpmn_id, Samples(bpmn_id)).add(seconds)


def parse_bare(files: dict[str, str], process_id: str) -> tuple[Any, dict[str, Any]]:
    """Parse once with SpiffBpmnParser; returns (spec, subprocess_specs)."""
    parser = SpiffBpmnParser()
    for name, text in sorted(files.items()):
        if name.endswith(".dmn"):
            parser.add_dmn_str(text.encode("utf-8"), filename=name)
        elif name.endswith(".bpmn"):
            parser.add_bpmn_str(text.encode("utf-8"), filename=name)
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


def _bare_start(parsed: tuple[Any, dict[str, Any]], data: dict[str, Any]) -> BpmnWorkflow:
    workflow = BpmnWorkflow(parsed[0], parsed[1])
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def _bare_step(workflow: BpmnWorkflow, bpmn_id: str, data: dict[str, Any]) -> None:
    task = workflow.get_next_task(state=TaskState.READY, manual=True, spec_name=bpmn_id)
    if task is None:
        raise RuntimeError(f"bare: {bpmn_id} is not ready")
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def bare_main(files: dict[str, str], process_id: str, start: dict[str, Any], steps: list[MainStep],
              cases: int, warmup: int) -> MainResult:
    """Case starts and completions of the main path on bare SpiffWorkflow."""
    parsed = parse_bare(files, process_id)
    res = MainResult(Samples("bare SpiffWorkflow: start"), Samples("bare SpiffWorkflow: complete"))
    for n in range(warmup + cases):
        keep = n >= warmup
        t0 = perf_counter()
        workflow = _bare_start(parsed, {**start, "case_number": f"LD-BENCH-{n:06d}"})
        if keep:
            res.starts.add(perf_counter() - t0)
        for step in steps:
            t0 = perf_counter()
            _bare_step(workflow, step.bpmn_id, dict(step.data))
            if keep:
                res.add(step.bpmn_id, perf_counter() - t0)
        if not workflow.is_completed():
            raise RuntimeError("bare: the main path did not reach its end event")
    return res


class _StateOnly(BpmnWorkflowConverter):
    """The workflow without its spec (the spec is parsed once and kept in memory: "spec cached")."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


class RoundTrip:
    """Bare SpiffWorkflow with its state stored as JSON text between steps (no database)."""

    def __init__(self, parsed: tuple[Any, dict[str, Any]]):
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = _StateOnly
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self.parsed = parsed

    def dump(self, workflow: BpmnWorkflow) -> str:
        registry = self.serializer.registry
        registry._encoder_mode = True  # what serialize_json does around convert()
        try:
            return json.dumps(registry.convert(workflow), cls=self.serializer._encoder_cls)
        finally:
            registry._encoder_mode = False

    def load(self, state: str) -> BpmnWorkflow:
        dct = json.loads(state, cls=self.serializer.json_decoder_cls)
        dct["spec"], dct["subprocess_specs"] = self.parsed
        workflow: BpmnWorkflow = self.serializer.from_dict(dct)
        return workflow

    def start(self, data: dict[str, Any]) -> str:
        return self.dump(_bare_start(self.parsed, data))

    def step(self, state: str, bpmn_id: str, data: dict[str, Any]) -> str:
        workflow = self.load(state)
        _bare_step(workflow, bpmn_id, data)
        return self.dump(workflow)


def roundtrip_main(files: dict[str, str], process_id: str, start: dict[str, Any], steps: list[MainStep],
                   cases: int, warmup: int) -> MainResult:
    """The main path on bare SpiffWorkflow that reloads and saves its state each step (spec cached)."""
    rt = RoundTrip(parse_bare(files, process_id))
    res = MainResult(Samples("round trip: start"), Samples("round trip: complete"))
    for n in range(warmup + cases):
        keep = n >= warmup
        t0 = perf_counter()
        state = rt.start({**start, "case_number": f"LD-BENCH-{n:06d}"})
        if keep:
            res.starts.add(perf_counter() - t0)
        for step in steps:
            t0 = perf_counter()
            state = rt.step(state, step.bpmn_id, dict(step.data))
            if keep:
                res.add(step.bpmn_id, perf_counter() - t0)
        if not rt.load(state).is_completed():
            raise RuntimeError("round trip: the main path did not reach its end event")
    return res


def _engine_step(spec_key: str, spec_json: dict[str, Any], snap: engine.InstanceSnapshot, bpmn_id: str,
                 data: dict[str, Any]) -> engine.InstanceSnapshot:
    ready = [r for r in snap.ready_tasks if r.bpmn_id == bpmn_id]
    if not ready:
        raise RuntimeError(f"engine: {bpmn_id} is not ready")
    return engine.complete_task(spec_key, spec_json, snap.state, ready[0].id, data)


def engine_main(files: dict[str, str], start: dict[str, Any], steps: list[MainStep],
                cases: int, warmup: int) -> MainResult:
    """Case starts and completions of the main path through ``app.engine`` (state round trip, no DB)."""
    parsed = engine.parse_bundle(files)
    spec_key = "bench-engine-" + parsed.process_id
    res = MainResult(Samples("app.engine: start"), Samples("app.engine: complete"))
    for n in range(warmup + cases):
        keep = n >= warmup
        t0 = perf_counter()
        snap = engine.start_instance(spec_key, parsed.spec_json, {**start, "case_number": f"LD-BENCH-{n:06d}"})
        if keep:
            res.starts.add(perf_counter() - t0)
        for step in steps:
            t0 = perf_counter()
            snap = _engine_step(spec_key, parsed.spec_json, snap, step.bpmn_id, dict(step.data))
            if keep:
                res.add(step.bpmn_id, perf_counter() - t0)
                res.state_bytes.setdefault(step.bpmn_id, len(snap.state.encode("utf-8")))
        if not snap.completed:
            raise RuntimeError("engine: the main path did not reach its end event")
    return res


def _chain_run(n_steps: int, instances: int, start: Callable[[], Any],
               step: Callable[[Any, str], Any]) -> list[list[float]]:
    """Per instance, the wall time of each step 1..n_steps."""
    out = []
    for _ in range(instances):
        state = start()
        times = []
        for i in range(1, n_steps + 1):
            t0 = perf_counter()
            state = step(state, chain_step_id(i))
            times.append(perf_counter() - t0)
        out.append(times)
    return out


def bare_chain(files: dict[str, str], process_id: str, n_steps: int, instances: int,
               start_data: dict[str, Any]) -> list[list[float]]:
    parsed = parse_bare(files, process_id)

    def step(workflow: BpmnWorkflow, bpmn_id: str) -> BpmnWorkflow:
        _bare_step(workflow, bpmn_id, {})
        return workflow

    return _chain_run(n_steps, instances, lambda: _bare_start(parsed, dict(start_data)), step)


def engine_chain(files: dict[str, str], n_steps: int, instances: int,
                 start_data: dict[str, Any]) -> tuple[list[list[float]], dict[int, int]]:
    """Per-step times through ``app.engine``, and the state size in bytes after each step of instance 0."""
    parsed = engine.parse_bundle(files)
    spec_key = "bench-engine-" + parsed.process_id
    sizes: dict[int, int] = {}
    counter = {"i": 0}

    def step(snap: engine.InstanceSnapshot, bpmn_id: str) -> engine.InstanceSnapshot:
        snap = _engine_step(spec_key, parsed.spec_json, snap, bpmn_id, {})
        counter["i"] += 1
        if counter["i"] <= n_steps:
            sizes[counter["i"]] = len(snap.state.encode("utf-8"))
        return snap

    times = _chain_run(n_steps, instances,
                       lambda: engine.start_instance(spec_key, parsed.spec_json, dict(start_data)), step)
    return times, sizes


STORED_TABLE = "bench_roundtrip_state"
"""The stored round trip's one table, in the platform run's own database (created and dropped by the run)."""


def stored_roundtrip_main(bind: sa.Engine, files: dict[str, str], process_id: str, start: dict[str, Any],
                          steps: list[MainStep], cases: int, warmup: int) -> MainResult:
    """The round trip with each instance's state kept in one row of ``bind``'s database.

    Per step, on a connection checked out of the platform's own pool (same driver, same SQLite pragmas):
    one SELECT of the row, the engine step, one UPDATE, one COMMIT -- the least any database-backed use of
    SpiffWorkflow does. A case start is the start + one INSERT + COMMIT. Plain Core text statements:
    no ORM, no projections, no audit.
    """
    rt = RoundTrip(parse_bare(files, process_id))
    res = MainResult(Samples(f"stored round trip {bind.dialect.name}: start"),
                     Samples(f"stored round trip {bind.dialect.name}: complete"))
    select = sa.text(f"SELECT state FROM {STORED_TABLE} WHERE id = :id")
    update = sa.text(f"UPDATE {STORED_TABLE} SET state = :state WHERE id = :id")
    insert = sa.text(f"INSERT INTO {STORED_TABLE} (id, state) VALUES (:id, :state)")
    with bind.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {STORED_TABLE}"))
        conn.execute(sa.text(f"CREATE TABLE {STORED_TABLE} (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"))
    try:
        for n in range(warmup + cases):
            keep = n >= warmup
            t0 = perf_counter()
            with bind.connect() as conn:
                conn.execute(insert, {"id": n, "state": rt.start({**start, "case_number": f"LD-BENCH-{n:06d}"})})
                conn.commit()
            if keep:
                res.starts.add(perf_counter() - t0)
            for step in steps:
                t0 = perf_counter()
                with bind.connect() as conn:
                    state = conn.execute(select, {"id": n}).scalar_one()
                    conn.execute(update, {"id": n, "state": rt.step(state, step.bpmn_id, dict(step.data))})
                    conn.commit()
                if keep:
                    res.add(step.bpmn_id, perf_counter() - t0)
            with bind.connect() as conn:
                if not rt.load(conn.execute(select, {"id": n}).scalar_one()).is_completed():
                    raise RuntimeError("stored round trip: the main path did not reach its end event")
    finally:
        with bind.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {STORED_TABLE}"))
    return res
