"""The restricted script environment: what a BPMN author can and cannot do (DESIGN.md: engine boundary)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.sandbox import (
    DEFAULT_HELPERS,
    RestrictedScriptEnvironment,
    ScriptBudgetExceeded,
    ScriptError,
    ScriptForbidden,
    ScriptNameConflict,
    ScriptSyntaxError,
    add_days,
    check_source,
    contains_any,
    days_between,
    find_script_error,
    make_script_engine,
)

SECRET = "module-global of the app: must never be visible to a script"


def leaky_helper(value: Any) -> Any:
    """A helper whose module globals include SECRET; scripts may call it but not look inside."""
    return value


@pytest.fixture(autouse=True)
def _database() -> Iterator[None]:
    """Override conftest's autouse rolled-back database: these are pure unit tests with no app."""
    yield


@pytest.fixture
def env() -> RestrictedScriptEnvironment:
    return RestrictedScriptEnvironment({**DEFAULT_HELPERS, "leaky_helper": leaky_helper})


def run(env: RestrictedScriptEnvironment, script: str, **data: Any) -> dict[str, Any]:
    context = dict(data)
    env.execute(script, context)
    return context


# --------------------------------------------------------------------------- forbidden


@pytest.mark.parametrize("script", [
    "import os",
    "import os as o",
    "import os.path",
    "from os import environ",
    "from . import x",
    "__import__('os')",
    "x = __import__",
])
def test_scripts_cannot_import(env: RestrictedScriptEnvironment, script: str) -> None:
    with pytest.raises(ScriptForbidden):
        run(env, script)


def test_import_message_is_clear(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(ScriptForbidden, match=r'Line 2: "import os" is not allowed'):
        run(env, "x = 1\nimport os")


@pytest.mark.parametrize("script", [
    "data = open('/etc/passwd').read()",
    "f = open",  # not callable-checked at compile time, but there is no ``open`` at runtime either
])
def test_scripts_cannot_open_files(env: RestrictedScriptEnvironment, script: str) -> None:
    with pytest.raises((ScriptForbidden, NameError)):
        run(env, script)


@pytest.mark.parametrize("script", [
    "x = os.environ['HOME']",
    "x = environ",
    "x = sys.modules",
    "x = getenv('HOME')",
])
def test_scripts_cannot_read_the_environment(env: RestrictedScriptEnvironment, script: str) -> None:
    with pytest.raises(NameError):
        run(env, script)


@pytest.mark.parametrize("script", [
    "x = ().__class__.__bases__[0].__subclasses__()",
    "x = leaky_helper.__globals__",
    "x = days_between.__globals__['SECRET']",
    "x = getattr(leaky_helper, '__globals__')",
    "x = hasattr(leaky_helper, '__globals__')",
    "x = type(1)",
    "x = type('X', (), {})",
    "x = globals()",
    "x = locals()",
    "x = vars()",
    "x = dir()",
    "x = eval('1')",
    "exec('x = 1')",
    "x = compile('1', '', 'eval')",
    "x = '{0.__class__}'.format(1)",
    "x = '{x}'.format_map({'x': 1})",
    "x = int.mro()",
    "x = (y for y in []).gi_frame",
    "x = __builtins__",
    "x = (lambda: 0).__code__",
    "x = len.__self__",
    "class X:\n    pass",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "with x:\n    pass",
])
def test_scripts_cannot_escape_through_introspection(env: RestrictedScriptEnvironment, script: str) -> None:
    with pytest.raises(ScriptForbidden):
        run(env, script)


def test_forbidden_messages_are_reported_at_compile_time(env: RestrictedScriptEnvironment) -> None:
    context = {"a": 1}
    with pytest.raises(ScriptForbidden, match='calling "getattr" is not allowed'):
        env.execute("a = 2\ngetattr(a, '__class__')", context)
    assert context == {"a": 1}, "nothing ran: the refusal happened before execution"


def test_helper_module_globals_are_not_reachable(env: RestrictedScriptEnvironment) -> None:
    for name in ("SECRET", "DEFAULT_HELPERS", "sys", "RestrictedScriptEnvironment", "db", "app",
                 "current_app", "_BASE_BUILTINS"):
        with pytest.raises((NameError, ScriptForbidden)):
            env.evaluate(name, {})
    assert env.evaluate("leaky_helper(5)", {}) == 5
    with pytest.raises(ScriptForbidden):
        env.evaluate("leaky_helper.__globals__", {})


def test_scripts_cannot_stop_the_worker(env: RestrictedScriptEnvironment) -> None:
    for script in ("raise SystemExit(1)", "raise KeyboardInterrupt", "raise BaseException('x')", "exit()"):
        with pytest.raises((NameError, ScriptForbidden)):
            run(env, script)
    with pytest.raises(ValueError, match="bad input"):
        run(env, "raise ValueError('bad input')")


def test_each_run_sees_only_its_own_task_data(env: RestrictedScriptEnvironment) -> None:
    case_a = run(env, "secret_a = 'alpha'", case="A")
    with pytest.raises(NameError):
        env.evaluate("secret_a", {"case": "B"})
    with pytest.raises(NameError):
        run(env, "x = secret_a", case="B")
    assert case_a == {"case": "A", "secret_a": "alpha"}


def test_unknown_names_raise_name_error(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(NameError, match="missing"):
        env.evaluate("missing > 3", {"present": 1})


# --------------------------------------------------------------------------- budgets


def test_infinite_loop_hits_the_time_budget() -> None:
    env = RestrictedScriptEnvironment(step_budget=10**12, time_budget=0.3)
    started = time.thread_time()
    with pytest.raises(ScriptBudgetExceeded, match="time budget of 0.3s of CPU"):
        env.execute("while True: pass", {})
    assert 0.3 <= time.thread_time() - started < 1.0  # CPU time: the same on a busy machine


def test_the_time_budget_is_cpu_time_so_waiting_for_the_cpu_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """A script is not refused because the machine was busy: the wall clock may run far ahead of the thread's CPU."""
    ticks = iter(range(10**9))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(ticks)))  # the wall clock: a second between reads
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    env = RestrictedScriptEnvironment(step_budget=10**6, time_budget=0.5)
    data: dict[str, object] = {}
    env.execute("total = 0\nfor i in range(20000):\n    total += i", data)
    assert data["total"] == sum(range(20000))


def test_the_processs_budgets_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.engine import sandbox_budget

    monkeypatch.setattr(sandbox_budget, "_budgets", sandbox_budget.default_budgets())
    sandbox_budget.configure_budgets(50, 5.0)
    env = RestrictedScriptEnvironment()
    assert (env.step_budget, env.time_budget) == (50, 5.0)
    with pytest.raises(ScriptBudgetExceeded, match="budget of 50 lines"):
        env.execute("total = 0\nfor i in range(100):\n    total += i", {})


@pytest.mark.parametrize("script", [
    "while True: pass",
    "while True:\n    x = 1",
    "x = 0\nwhile x >= 0:\n    x += 1",
    "x = [1 for a in range(1000) for b in range(1000)]",
    "x = any(a < 0 for a in range(1000) for b in range(1000))",
    "def f():\n    while True:\n        pass\nf()",
])
def test_loops_hit_the_step_budget(script: str) -> None:
    env = RestrictedScriptEnvironment(step_budget=10_000, time_budget=30)
    with pytest.raises(ScriptBudgetExceeded, match="10,000 lines"):
        env.execute(script, {})


def test_step_budget_is_per_run() -> None:
    env = RestrictedScriptEnvironment(step_budget=500)
    script = "total = 0\nfor i in range(100):\n    total += i"
    for _ in range(3):
        assert run(env, script)["total"] == 4950
    with pytest.raises(ScriptBudgetExceeded):
        run(env, "total = 0\nfor i in range(1000):\n    total += i")


def test_expressions_are_budgeted_too() -> None:
    env = RestrictedScriptEnvironment(step_budget=1_000)
    with pytest.raises(ScriptBudgetExceeded):
        env.evaluate("sum(a * b for a in range(1000) for b in range(1000))", {})


@pytest.mark.parametrize("script", [
    "x = sum([[0] * 100] * 10_000, [])",  # a million items, quadratic in builtin sum
    "x = sum([(0,) * 100] * 10_000, ())",
])
def test_sum_of_sequences_is_linear(env: RestrictedScriptEnvironment, script: str) -> None:
    started = time.perf_counter()
    assert len(run(env, script)["x"]) == 1_000_000
    assert time.perf_counter() - started < 1.0


def test_sum_keeps_its_meaning(env: RestrictedScriptEnvironment) -> None:
    assert run(env, "x = sum([[1], [2, 3]], [0])")["x"] == [0, 1, 2, 3]
    assert run(env, "x = sum([(1,), (2,)], ())")["x"] == (1, 2)
    assert run(env, "x = sum([1, 2.5], 1)")["x"] == 4.5
    with pytest.raises(TypeError):
        run(env, "x = sum([[1], (2,)], [])")


@pytest.mark.parametrize("script", [
    "x = 10 ** 10 ** 8",
    "x = pow(2, 10 ** 7)",
    "x = 2\nx **= 10 ** 8",
    "x = 1 << 10 ** 8",
    "x = 'a' * 10 ** 9",
    "x = [0] * 10 ** 9",
    "x = 10 ** 9 * 'ab'",
    "x = 'a' * 10 ** 6\nx = x + x",
    "x = 'a' * 10 ** 6\nx += x",
    "x = [0] * 10 ** 6\nx.extend(x)",
    "x = [0] * 10 ** 6\nx[len(x):] = x",
    "x = ','.join(['a' * 1000] * 10000)",
    "x = 'a'.ljust(10 ** 9)",
    "x = ('a' * 2000).replace('a', 'b' * 1000)",
    "x = str([[0] * 10 ** 6] * 10 ** 6)",
    "x = f'{[[0] * 10 ** 6] * 10 ** 6}'",
    "x = f'{1:>999999999}'",
    "x = '%999999999d' % 1",
    "x = round(5, -10 ** 9)",
    "x = range(10 ** 9)",
    "x = sum([[0] * 10 ** 6] * 10, [])",
    "x = [[0] * 10 ** 6] * 10 ** 6",  # aliasing bomb left in the task data
    "x = [0] * 10 ** 6\nx = [*x, *x]\nx = [*x, *x]",
    "x = ('\u00df' * 10 ** 6).upper()",
    "x = int('f' * 10 ** 6, 16)",
    "x = []\nx.append(x)",  # a cycle cannot be stored as JSON task data
    "x = pow(3, 3, 1 << 99999)\nx = pow(3, 3, int('f' * 30000, 16))",
])
def test_huge_allocations_are_refused(env: RestrictedScriptEnvironment, script: str) -> None:
    with pytest.raises(ScriptBudgetExceeded):
        run(env, script)


def test_guarded_methods_do_not_leak_the_raw_method(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(AttributeError):
        run(env, "x = ','.join.args")


def test_task_data_cannot_shadow_the_guards(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(ScriptForbidden, match="reserved"):
        env.evaluate("a.upper()", {"a": "x", "_getattr_": "not a guard"})
    with pytest.raises(ScriptForbidden, match="reserved"):
        run(env, "b = 1", _write_=[])


def test_big_but_reasonable_values_are_fine(env: RestrictedScriptEnvironment) -> None:
    data = run(env, "x = 2 ** 1000\ny = 'ab' * 1000\nz = [0] * 10000\nw = ' '.join(['a'] * 1000)\n"
                    "v = [*z, *z]\nu = int('ff', 16) + pow(3, 4, 5)\nt = isinstance(u, int) and isinstance(y, str)")
    assert data["x"] == 2**1000 and len(data["y"]) == 2000 and len(data["z"]) == 10000
    assert len(data["v"]) == 20000 and data["u"] == 256 and data["t"] is True


def test_previous_tracer_keeps_working_and_is_restored(env: RestrictedScriptEnvironment) -> None:
    seen: list[str] = []

    def outer(frame: FrameType, event: str, arg: Any) -> Any:
        seen.append(f"{frame.f_code.co_filename}:{event}")
        return outer

    previous = sys.gettrace()
    sys.settrace(outer)
    try:
        assert run(env, "x = 1\ny = x + 1")["y"] == 2
        assert sys.gettrace() is outer
        with pytest.raises(ScriptBudgetExceeded):
            RestrictedScriptEnvironment(step_budget=10).execute("while True: pass", {})
        assert sys.gettrace() is outer
        with pytest.raises(ZeroDivisionError):
            run(env, "x = 1 / 0")
        assert sys.gettrace() is outer
    finally:
        sys.settrace(previous)
    assert "<string>:call" in seen and "<string>:line" in seen


# --------------------------------------------------------------------------- normal scripts


def test_assignments_land_in_task_data_and_helpers_are_removed(env: RestrictedScriptEnvironment) -> None:
    data = run(env, (
        "days = days_between(opened, closed)\n"
        "late = days > 3\n"
        "def double(n):\n"
        "    return n * 2\n"
        "twice = double(days)\n"
        "helper_alias = add_days\n"
        "key = lambda item: item['n']\n"
        "ranked = sorted(rows, key=key)\n"
    ), opened="2026-03-01", closed="2026-03-06", rows=[{"n": 2}, {"n": 1}])
    assert data == {
        "opened": "2026-03-01", "closed": "2026-03-06", "rows": [{"n": 2}, {"n": 1}],
        "days": 5, "late": True, "twice": 10, "ranked": [{"n": 1}, {"n": 2}],
    }


def test_comprehensions_item_writes_and_string_methods(env: RestrictedScriptEnvironment) -> None:
    data = run(env, (
        "names = [p['name'].upper() for p in people if p['age'] >= 18]\n"
        "by_name = {p['name']: p['age'] for p in people}\n"
        "summary['count'] = len(names)\n"
        "summary['count'] += 1\n"
        "summary['tags'].append('checked')\n"
        "summary['tags'][0] = 'first'\n"
        "flags = [n.startswith('A') for n in names]\n"
        "first, *rest = names\n"
        "for a, b in pairs:\n"
        "    total = a + b\n"
        "label = f'{len(names)} adult(s): {\", \".join(names)}'\n"
        "parts = 'a,b'.split(',')\n"
        "clean = '  x '.strip().replace('x', 'y')\n"
        "n = int('42') + round(2.5) + abs(-1) + max([1, 2]) + min(3, 4)\n"
        "ok = all(isinstance(x, str) for x in names) and any(flags)\n"
        "pct = '%.1f%%' % 12.345\n"
    ), people=[{"name": "Ann", "age": 30}, {"name": "bo", "age": 9}, {"name": "Al", "age": 18}],
        summary={"tags": ["new"]}, pairs=[(1, 2), (3, 4)])
    assert data["names"] == ["ANN", "AL"]
    assert data["by_name"] == {"Ann": 30, "bo": 9, "Al": 18}
    assert data["summary"] == {"tags": ["first", "checked"], "count": 3}
    assert data["flags"] == [True, True] and data["first"] == "ANN" and data["rest"] == ["AL"]
    assert data["total"] == 7 and data["label"] == "2 adult(s): ANN, AL"
    assert data["parts"] == ["a", "b"] and data["clean"] == "y" and data["n"] == 42 + 2 + 1 + 2 + 3
    assert data["ok"] is True and data["pct"] == "12.3%"
    assert not any(key.startswith("_") for key in data), "no RestrictedPython temporaries left behind"


def test_print_goes_nowhere_but_printed_works(env: RestrictedScriptEnvironment) -> None:
    data = run(env, "print('hello', 1)\nout = printed")
    assert data == {"out": "hello 1\n"}


def test_attribute_writes_on_non_containers_are_refused(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(TypeError):
        run(env, "x = 'abc'\nx.y = 1")


def test_task_data_shadowing_a_helper_fails_fast(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(ScriptNameConflict) as err:
        run(env, "x = 1", days_between=3)
    assert isinstance(err.value, ValueError)


def test_syntax_errors_are_script_errors_with_a_line(env: RestrictedScriptEnvironment) -> None:
    with pytest.raises(ScriptSyntaxError) as err:
        run(env, "x = 1\ny = (")
    assert isinstance(err.value, SyntaxError) and isinstance(err.value, ScriptError)
    assert err.value.lineno == 2


def test_helpers_must_be_plain_callables() -> None:
    with pytest.raises(ValueError):
        RestrictedScriptEnvironment({"_hidden": len})
    with pytest.raises(ValueError):
        RestrictedScriptEnvironment({"x": 3})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(("expression", "expected"), [
    ("amount > 1000 and region in ('north', 'east')", True),
    ("not approved or amount < 10", False),
    ("status == 'open' and len(items) == 2", True),
    ("contains_any(tags, ['urgent', 'vip'])", True),
    ("days_between(opened, '2026-03-08') >= 7", True),
    ("'P5D'", "P5D"),
    ('"2026-01-01T00:00:00+08:00"', "2026-01-01T00:00:00+08:00"),
    ("add_days(opened, 5)", "2026-03-06"),
    ("type == 'x'", True),  # a data field may be called like a forbidden builtin
])
def test_gateway_and_timer_expressions(env: RestrictedScriptEnvironment, expression: str, expected: Any) -> None:
    data = {"amount": 5000, "region": "north", "approved": True, "status": "open", "items": [1, 2],
            "tags": ["vip"], "opened": "2026-03-01", "type": "x"}
    assert env.evaluate(expression, data) == expected


@pytest.mark.parametrize(("expression", "external", "expected"), [
    ('(grade) == ("poor")', None, True),
    ('(grade) == ("good")', None, False),
    ("score>= 5", None, True),
    ("score< 5", None, False),
    ('grade in ("poor", "bad")', None, True),
    ("4 < dmninputexpr < 9", {"dmninputexpr": 7}, True),
    ("dmninputexpr == 'x'", {"dmninputexpr": "x"}, True),
])
def test_dmn_style_expressions(env: RestrictedScriptEnvironment, expression: str,
                               external: dict[str, Any] | None, expected: bool) -> None:
    assert env.evaluate(expression, {"grade": "poor", "score": 7}, external) is expected


def test_evaluate_does_not_change_task_data(env: RestrictedScriptEnvironment) -> None:
    data = {"a": 1}
    assert env.evaluate("(b := a + 1) + b", data) == 4
    assert data == {"a": 1}


def test_task_data_wins_over_external_context(env: RestrictedScriptEnvironment) -> None:
    assert env.evaluate("x", {"x": "task"}, {"x": "external", "y": 1}) == "task"


@settings(max_examples=60, deadline=None)
@given(a=st.integers(-10**6, 10**6), b=st.integers(0, 50), text=st.text(max_size=20))
def test_guarded_operators_match_python(a: int, b: int, text: str) -> None:
    env = RestrictedScriptEnvironment()
    context = {"a": a, "b": b, "text": text}
    assert env.evaluate("a * b + a ** (b % 7) - (a << (b % 9)) + a % (b + 1)", context) == \
        a * b + a ** (b % 7) - (a << (b % 9)) + a % (b + 1)
    assert env.evaluate("text * b + text", context) == text * b + text
    assert env.evaluate("f'{text!r:>{b}}|{a:,}'", context) == f"{text!r:>{b}}|{a:,}"


# --------------------------------------------------------------------------- check_source


def test_check_source_reports_problems() -> None:
    assert check_source("x = a + 1", "exec") == []
    assert check_source("amount > 5", "eval") == []
    assert check_source('"P5D"', "eval") == []
    problems = check_source("import os\nx = open('f')", "exec")
    assert len(problems) == 2
    assert problems[0].startswith("Line 1:") and "import" in problems[0]
    assert problems[1].startswith("Line 2:") and '"open"' in problems[1]
    syntax = check_source("x = (", "exec")
    assert len(syntax) == 1 and "SyntaxError" in syntax[0]
    assert check_source("x = 1", "eval"), "a statement is not an expression"
    assert check_source("a.__class__", "eval")


# --------------------------------------------------------------------------- default helpers


def test_default_helpers() -> None:
    assert days_between("2026-03-01", "2026-03-10") == 9
    assert days_between("2026-03-10", "2026-03-01") == -9
    assert days_between("2026-03-01T23:00:00+08:00", "2026-03-03T00:00:00+08:00") == 1
    with pytest.raises(ValueError):
        days_between("2026-03-01T00:00:00", "2026-03-02T00:00:00+00:00")
    assert add_days("2026-02-27", 2) == "2026-03-01"
    assert add_days("2026-03-01T09:00:00+08:00", -1) == "2026-02-28T09:00:00+08:00"
    assert contains_any(["a", "b"], ["x", "b"]) and not contains_any("hello", ["z"])
    assert all(func.__doc__ for func in DEFAULT_HELPERS.values())


# --------------------------------------------------------------------------- SpiffWorkflow end to end

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="proc" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <bpmn:scriptTask id="calc"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="f4"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end_big"><bpmn:conditionExpression>total &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="end_small"/>
    <bpmn:endEvent id="end_big"/>
    <bpmn:endEvent id="end_small"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _run_bpmn(script: str, data: dict[str, Any], **budget: Any) -> Any:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: TID251 - engine test
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: TID251 - engine test
    from SpiffWorkflow.util.task import TaskState  # noqa: TID251 - engine test

    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("{script}", script).encode())
    workflow = BpmnWorkflow(parser.get_spec("proc"), script_engine=make_script_engine(**budget))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def _finished_at(workflow: Any) -> list[str]:
    from SpiffWorkflow.util.task import TaskState  # noqa: TID251 - engine test

    return [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.bpmn_id and t.task_spec.bpmn_id.startswith("end_")]


@pytest.mark.parametrize(("amounts", "end"), [([4, 5, 6], "end_big"), ([1, 2], "end_small")])
def test_bpmn_script_and_gateway_run_in_the_sandbox(amounts: list[int], end: str) -> None:
    workflow = _run_bpmn("total = sum(a for a in amounts)\nlabel = f'total {total}'.upper()",
                         {"amounts": amounts})
    assert workflow.is_completed()
    assert _finished_at(workflow) == [end]
    assert workflow.data["total"] == sum(amounts)
    assert workflow.data["label"] == f"TOTAL {sum(amounts)}"
    assert "days_between" not in workflow.data and "__builtins__" not in workflow.data


@pytest.mark.parametrize(("script", "budget", "expected"), [
    ("import os\ntotal = 1", {}, ScriptForbidden),
    ("total = ().__class__.__bases__[0].__subclasses__()", {}, ScriptForbidden),
    ("total = open('/etc/hostname').read()", {}, ScriptForbidden),
    ("total = 0\nwhile True:\n    total += 1", {"step_budget": 5_000}, ScriptBudgetExceeded),
    ("while True: pass", {"step_budget": 10**12, "time_budget": 0.2}, ScriptBudgetExceeded),
    ("total = 9 ** 9 ** 9", {}, ScriptBudgetExceeded),
])
def test_malicious_bpmn_script_fails_with_a_sandbox_cause(script: str, budget: dict[str, Any],
                                                          expected: type[ScriptError]) -> None:
    with pytest.raises(Exception) as err:  # noqa: B017 - SpiffWorkflow wraps it; we inspect the chain
        _run_bpmn(script, {"amounts": []}, **budget)
    cause = find_script_error(err.value)
    assert isinstance(cause, expected), f"{type(err.value).__name__}: {err.value!r} has no {expected.__name__}"


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="d" namespace="t">
  <decision id="triage" name="Triage">
    <decisionTable id="table" hitPolicy="UNIQUE">
      <input id="in_grade" label="Grade"><inputExpression id="ie1" typeRef="string"><text>grade</text></inputExpression></input>
      <input id="in_score" label="Score"><inputExpression id="ie2" typeRef="integer"><text>score</text></inputExpression></input>
      <output id="out" name="route" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1a"><text>"poor"</text></inputEntry><inputEntry id="r1b"><text>&gt;= 5</text></inputEntry>
        <outputEntry id="r1o"><text>"escalate"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2a"><text>"poor"</text></inputEntry><inputEntry id="r2b"><text>1 &lt; ? &lt; 5</text></inputEntry>
        <outputEntry id="r2o"><text>"review"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="r3a"><text></text></inputEntry><inputEntry id="r3b"><text></text></inputEntry>
        <outputEntry id="r3o"><text>"close"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""

DMN_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="proc" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:businessRuleTask id="decide">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>triage</spiffworkflow:calledDecisionId></bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def dmn_spec() -> Iterator[Any]:
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: TID251 - engine test

    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DMN_BPMN.encode())
    parser.add_dmn_str(DMN.encode())
    yield parser.get_spec("proc")


@pytest.mark.parametrize(("grade", "score", "route"), [
    ("poor", 7, "escalate"), ("poor", 3, "review"), ("good", 7, "close"), ("poor", 0, "close"),
])
def test_dmn_decision_table_runs_in_the_sandbox(dmn_spec: Any, grade: str, score: int, route: str) -> None:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: TID251 - engine test
    from SpiffWorkflow.util.task import TaskState  # noqa: TID251 - engine test

    workflow = BpmnWorkflow(dmn_spec, script_engine=make_script_engine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"grade": grade, "score": score})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["route"] == route
