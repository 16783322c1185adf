"""Hash flooding: one call filling a table with keys that share a hash is refused before it runs.

``i * (2**61 - 1)`` are distinct ints with one hash; ``set()`` over 20,000 of them
is 2 * 10**8 comparisons of uninterruptible C time (seconds; 50,000 take minutes),
which only the process backstop would end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.engine.sandbox import RestrictedScriptEnvironment, ScriptBudgetExceeded

KEYS = "M = 2 ** 61 - 1\nkeys = range(0, 20_000 * M, M)\n"


@pytest.fixture(autouse=True)
def _database() -> Iterator[None]:
    """Pure unit tests: no app or database."""
    yield


@pytest.fixture
def env() -> RestrictedScriptEnvironment:
    return RestrictedScriptEnvironment()


def run(env: RestrictedScriptEnvironment, script: str, **data: Any) -> dict[str, Any]:
    context = dict(data)
    env.execute(script, context)
    return context


@pytest.mark.parametrize("line", [
    "x = len(set(keys))",
    "x = len(frozenset(keys))",
    "x = len(set(list(keys)))",
    "x = len(set([(k,) for k in keys]))",  # tuples of colliding ints collide too
    "x = len({*keys})",
    "x = len(dict.fromkeys(keys))",
    "x = len({}.fromkeys(keys, 0))",
    "x = len(dict(zip(keys, keys)))",
    "x = set()\nx.update(keys)\nx = len(x)",
    "x = len(set().union(keys))",
    "x = len(set.union(set(), keys))",
    "x = {}\nx.update(zip(keys, keys))\nx = len(x)",
])
def test_colliding_keys_are_refused_before_the_table_is_built(env: RestrictedScriptEnvironment, line: str) -> None:
    # CPU seconds of this process, not wall time: a busy machine (two test workers, other jobs) stretches the
    # wall clock, while building the table would cost this process itself ~2e8 comparisons (tens of seconds).
    started = time.process_time()
    with pytest.raises(ScriptBudgetExceeded, match="share one hash"):
        run(env, KEYS + line)
    assert time.process_time() - started < 3.0


@pytest.mark.parametrize(("script", "expected"), [
    ("x = len(set([0] * 999_999))", 1),  # many copies of one key are cheap
    ("x = len(set([-1] * 1000 + [-2] * 1000))", 2),  # hash(-1) == hash(-2): a real, harmless collision
    ("x = len(set(range(999_999)))", 999_999),
    ("x = sorted(set('hello'))", ["e", "h", "l", "o"]),
    ("x = dict([('a', 1)], b=2)", {"a": 1, "b": 2}),
    ("x = dict.fromkeys('ab', 0)", {"a": 0, "b": 0}),
    ("x = [isinstance({1}, set), isinstance({}, dict), isinstance(frozenset(), frozenset)]", [True] * 3),
    ("x = sorted({*'ba', *'c'})", ["a", "b", "c"]),
    ("x = sorted(set('ab').union('bc', ['d']))", ["a", "b", "c", "d"]),
])
def test_ordinary_tables_behave_as_before(env: RestrictedScriptEnvironment, script: str, expected: Any) -> None:
    assert run(env, script)["x"] == expected
