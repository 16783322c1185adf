"""The process-level backstop: a slow C call or a memory bomb in a script ends with a clear error.

The sandbox bounds operand sizes and checks its budget between lines; one C-level
operation on bounded inputs (comparing aliased rows, hashing a tuple of tuples)
used to run to the end holding the GIL. Each engine command now runs in a forked
child under CPU, memory and wall-clock limits (``app/engine/isolation.py``).
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest

from app import engine
from app.engine import isolation

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")

EQUALITY_BOMB = "a = list(range(10**5))\nb = [a] * 10**5\nc = [list(a)] * 10**5\nsame = b == c\nscore = 2"
"""10**10 comparisons in one C call: ~16 s of frozen interpreter before the backstop."""
HASH_BOMB = "t = tuple(range(10**5))\nu = (t,) * 10**5\nseen = len({u})\nscore = 2"
"""10**10 hash steps in one C call. With 3 * 10**4 (9 * 10**8 steps) a fast core hashed it inside the 1 s CPU
limit, and the sandbox's size check refused the data afterwards instead of the backstop stopping the call."""
MEMORY_BOMB = "rows = [[0] * 10**6 for i in range(64)]\nscore = 2"


def _run_script(script: str) -> engine.InstanceSnapshot:
    bundle = engine.parse_bundle({"mini.bpmn": MINI.replace("score = 2 if ok else 1", script)})
    key = f"backstop-{hash(script)}"
    started = engine.start_instance(key, bundle.spec_json, {})
    [task] = started.ready_tasks
    return engine.complete_task(key, bundle.spec_json, started.state, task.id, {"ok": True})


@pytest.mark.parametrize("script", [EQUALITY_BOMB, HASH_BOMB], ids=["equality", "hash"])
def test_a_slow_c_call_is_stopped_by_the_cpu_limit_naming_the_element(script: str) -> None:
    with isolation.limits(cpu_seconds=1, wall_seconds=4):
        began = time.monotonic()
        with pytest.raises(engine.ProcessScriptError) as caught:
            _run_script(script)
        elapsed = time.monotonic() - began
    assert elapsed < 6, f"refused after {elapsed:.1f}s"
    assert caught.value.bpmn_id == "s1"
    # 1 s of CPU, or 4 s of wall clock when the machine is too busy to give the child its second
    assert "stopped at s1" in str(caught.value) and ("CPU" in str(caught.value) or "longer than 4 s" in str(caught.value))


def test_the_wall_clock_limit_stops_a_command_that_is_not_using_cpu() -> None:
    def sleeper() -> None:
        isolation.note_element("waiting_task")
        time.sleep(30)

    with isolation.limits(wall_seconds=0.5):
        began = time.monotonic()
        with pytest.raises(engine.ProcessScriptError, match="stopped at waiting_task.*longer than 0.5 s"):
            isolation.run_isolated(sleeper)
    assert time.monotonic() - began < 3


def test_a_memory_bomb_is_stopped_by_the_memory_limit() -> None:
    with isolation.limits(memory_mb=128), pytest.raises(engine.ProcessScriptError) as caught:
        _run_script(MEMORY_BOMB)
    assert "more than 128 MB of memory" in str(caught.value)


def test_other_threads_keep_running_while_a_bomb_is_refused() -> None:
    ticks: list[float] = []
    done = threading.Event()

    def heartbeat() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.02)

    beat = threading.Thread(target=heartbeat)
    beat.start()
    try:
        with isolation.limits(cpu_seconds=1, wall_seconds=4), pytest.raises(engine.ProcessScriptError):
            _run_script(EQUALITY_BOMB)
    finally:
        done.set()
        beat.join()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 20 and max(gaps) < 0.5, f"longest pause of the other thread: {max(gaps):.2f}s"


def test_results_errors_and_ordinary_commands_come_back_unchanged() -> None:
    snap = _run_script("score = 2 if ok else 1")
    assert [t.bpmn_id for t in snap.ready_tasks] == ["t2"] and snap.data["score"] == 2
    with pytest.raises(engine.ProcessScriptError) as caught:
        _run_script("score = undefined_name")
    assert caught.value.bpmn_id == "s1" and "undefined_name" in str(caught.value)
    assert isolation.run_isolated(lambda: {"n": 1}) == {"n": 1}


def test_modular_power_is_bounded_before_it_runs() -> None:
    with pytest.raises(engine.ProcessScriptError, match="pow\\(\\) with modulus"):
        _run_script("x = pow(7, 2**40000, 2**40000 - 1)\nscore = 2")


@pytest.mark.parametrize(("source", "words"), [
    ("x = 10**10**10", "power (bits)"),
    ("x = pow(10, 10**9)", "power (bits)"),
    ("x = 'a' * 10**10", "repetition"),
    ("x = pow(7, 2**40000, 2**40000 - 1)", "pow() with modulus"),
    ("while True:\n    x = 1", "never ends"),
])
def test_constant_bombs_and_endless_loops_are_refused_before_anything_runs(source: str, words: str) -> None:
    [problem] = engine.check_bounds(source, "exec")
    assert words in problem and problem.startswith("Line ")


@pytest.mark.parametrize("source", ["x = 2**64", "x = [0] * 100", "while True:\n    if x:\n        break",
                                    "x = data * 10**10", "y = 10 // 0"])
def test_ordinary_code_has_no_static_problem(source: str) -> None:
    assert engine.check_bounds(source, "exec") == []


def test_a_stopped_engine_worker_is_replaced_and_the_next_command_runs() -> None:
    with isolation.limits(cpu_seconds=1, wall_seconds=4), pytest.raises(engine.ProcessScriptError):
        _run_script(EQUALITY_BOMB)
    snap = _run_script("score = 2 if ok else 1")
    assert snap.data["score"] == 2


def test_concurrent_commands_each_get_an_engine_worker() -> None:
    results: list[int] = []

    def one() -> None:
        results.append(_run_script("score = 2 if ok else 1").data["score"])

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [2] * 6


def test_engine_workers_hold_no_copy_of_the_parents_descriptors() -> None:
    """Else a socket the parent closes stays open (the database never sees it end) and a pipe's
    reader never gets EOF (the browser driver in the browser tests waited for ever)."""
    from app.engine import isolation_pool

    isolation_pool.retire_idle_workers()
    read_end, write_end = os.pipe()
    try:
        _run_script("score = 2 if ok else 1")  # forks a worker while the pipe is open; it stays idle
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 2)
        assert ready and os.read(read_end, 1) == b""
    finally:
        os.close(read_end)
