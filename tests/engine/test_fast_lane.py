"""The engine's fast lane: provably bounded versions run in-process, everything else still in the pool.

``app/engine/fast_lane.py`` and ``sandbox_bounded.py``. Both sides are proved here: the shipped processes
are classified bounded and run without a worker; hostile code (loops, repetition, doubling aliases, big
data, endless engine loops) leaves for the pool, where the backstop stops the bombs as before.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app import engine
from app.engine import fast_lane, isolation, runtime
from app.engine.sandbox_bounded import unbounded_reason
from app.engine.serialization import restore_spec

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
SHIPPED = sorted(p for p in (ROOT / "bpmn").iterdir() if p.is_dir())


@pytest.fixture
def pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands that went to an engine worker (by name)."""
    calls: list[str] = []
    real = runtime.run_command

    def spy(command: Any, *args: Any) -> Any:
        calls.append(command.__name__)
        return real(command, *args)

    monkeypatch.setattr(runtime, "run_command", spy)
    return calls


def _bundle(script: str) -> tuple[str, engine.ParsedBundle]:
    bundle = engine.parse_bundle({"mini.bpmn": MINI.replace("score = 2 if ok else 1", script)})
    return f"fast-{hash(script)}-{time.monotonic_ns()}", bundle


def _complete(script: str, data: dict[str, Any] | None = None) -> engine.InstanceSnapshot:
    key, bundle = _bundle(script)
    started = engine.start_instance(key, bundle.spec_json, {})
    [task] = started.ready_tasks
    return engine.complete_task(key, bundle.spec_json, started.state, task.id, data or {"ok": True})


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_process_is_classified_bounded(folder: Path) -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.suffix in (".bpmn", ".dmn")}
    bundle = engine.parse_bundle(files)
    key = f"shipped-{folder.name}-{time.monotonic_ns()}"
    assert fast_lane.classify(key, restore_spec(key, bundle.spec_json)) is None
    for element, kind, source in bundle.expressions:  # what the designer wrote, as the validator lists it
        assert unbounded_reason(source, "exec" if kind == "script" else "eval") is None, (element, source)


def test_the_spec_walk_finds_conditions_properties_and_dmn() -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "bpmn" / "four_in_one").iterdir()
             if p.suffix in (".bpmn", ".dmn")}
    bundle = engine.parse_bundle(files)
    restored = restore_spec("walk-four-in-one", bundle.spec_json)
    sources = {source for _, _, source in fast_lane.spec_code(*restored)}
    assert 'situation == "living_alone"' in sources  # a gateway condition
    assert "grade" in sources  # a DMN input expression
    assert '["township"]' in sources  # a DMN output entry


def test_a_bounded_version_runs_without_a_worker(pool_calls: list[str]) -> None:
    snap = _complete("score = 2 if ok else 1\nlabel = str(score) + '/' + 'x'.upper()")
    assert snap.data["score"] == 2 and snap.data["label"] == "2/X"
    assert pool_calls == []


@pytest.mark.parametrize("source", [
    'situation == "living_alone"', "not parents_reached", 'court_decision in ("protection_order", "dismiss")',
    'help_tier == "protective" and revocation_trigger != "none"', 'difference["department"]',
    "score = 2 if ok else 1", "total = a + b * 3\nif total > 10:\n    level = 'high'\nelse:\n    level = 'low'",
    "n = len(items)\nfirst = sorted(items)[0] if items else None", 'name = person.get("name", "").strip()',
    'f"{a:>10} {b}"', "contains_any(tags, ['orphan', 'disabled'])", "x, y = pair",
])
def test_ordinary_process_code_is_bounded(source: str) -> None:
    mode = "eval" if "\n" not in source and "=" not in source.replace("==", "").replace("!=", "") else "exec"
    assert unbounded_reason(source, mode) is None


@pytest.mark.parametrize(("source", "why"), [
    ("for i in items:\n    n = i", "For"),
    ("while x:\n    x = x - 1", "While"),
    ("xs = [i for i in items]", "ListComp"),
    ("f = lambda v: v", "Lambda"),
    ("def f():\n    pass", "FunctionDef"),
    ("n = list(range(10))", "'range'"),
    ("items.append(items)", "'append'"),
    ("rows[0] = rows", "store into"),
    ("ok = contains_any(a, b)", "'contains_any'"),
    ("a = [x, x]\nb = [a, a]\nc = [b, b]\nd = [c, c]\ne = [d, d]\nf = e == e", "16x"),
    ("s = '" + "a" * 20_000 + "'", "characters"),
    ('t = f"{a:>{n}}"', "format spec"),
    ("v = [*a, *a]", "unpacking"),
    ("_x = 1", "'_x'"),
    ("len = sorted\nn = len(a)", "store into"),
])
def test_code_that_could_build_huge_or_aliased_values_is_not_bounded(source: str, why: str) -> None:
    reason = unbounded_reason(source, "exec")
    assert reason is not None and why in reason, reason


def test_an_unbounded_version_goes_to_the_pool_and_still_works(pool_calls: list[str]) -> None:
    snap = _complete("score = 0\nfor i in [1, 2, 3]:\n    score = score + i")
    assert snap.data["score"] == 6
    assert "_complete" in pool_calls and "_start" in pool_calls


def test_repetition_leaves_the_fast_lane_at_run_time_and_the_backstop_stops_the_bomb(pool_calls: list[str]) -> None:
    """``*`` is in the bounded language for numbers only: on a list the fast lane's guard hands the command
    to the pool, where the aliased-rows comparison is stopped by the CPU limit as before."""
    bomb = "a = [0] * 10**5\nb = [a] * 10**5\nc = [[0] * 10**5] * 10**5\nsame = b == c\nscore = 2"
    assert unbounded_reason(bomb, "exec") is None  # statically fine: only the run-time guard can tell
    with isolation.limits(cpu_seconds=1, wall_seconds=4), pytest.raises(engine.ProcessScriptError) as caught:
        _complete(bomb)
    assert "stopped at s1" in str(caught.value)
    assert "_complete" in pool_calls


def test_data_larger_than_the_fast_lane_takes_goes_to_the_pool(pool_calls: list[str]) -> None:
    snap = _complete("score = len(note)", {"ok": True, "note": "字" * (fast_lane.MAX_INPUT + 1)})
    assert snap.data["score"] == fast_lane.MAX_INPUT + 1
    assert pool_calls == ["_complete"]


def test_a_state_larger_than_the_fast_lane_loads_goes_to_the_pool(
        pool_calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_lane, "MAX_STATE_CHARS", 100)
    assert _complete("score = 2").data["score"] == 2
    assert pool_calls == ["_complete"]


def test_a_command_that_runs_too_many_engine_steps_leaves_the_fast_lane() -> None:
    with fast_lane.running(), pytest.raises(fast_lane.LeaveFastLane, match="engine steps"):
        for _ in range(fast_lane.MAX_STEPS + 1):
            fast_lane.tick()
    fast_lane.tick()  # outside the lane: nothing to count


def test_the_fast_lane_gives_the_same_snapshot_as_the_pool() -> None:
    script = "score = 2 if ok else 1\nnote = 'n' + str(score)"
    fast = _complete(script)
    with isolation.limits(fast_lane=False):
        pooled = _complete(script)
    assert (fast.data, fast.completed, [s.bpmn_id for s in fast.steps]) == \
        (pooled.data, pooled.completed, [s.bpmn_id for s in pooled.steps])


def test_a_script_error_in_the_fast_lane_is_the_same_process_error(pool_calls: list[str]) -> None:
    with pytest.raises(engine.ProcessScriptError) as caught:
        _complete("score = missing_name + 1")
    assert caught.value.bpmn_id == "s1" and "missing_name" in str(caught.value)
    assert pool_calls == []
