"""``pytest --forks N`` (tests/forks.py): every test runs once, in a worker of its own databases, and what goes
wrong in a worker -- a failure, a hang, a worker that dies -- is reported against the right test while the
rest still run. Each case is a real pytest run in a subprocess over a small suite written for it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from forks import UNIT, units_of

TESTS = Path(__file__).resolve().parent

SUITE = '''
import os
import time

import pytest

@pytest.mark.parametrize("n", range(12))
def test_passes(n):
    assert os.environ["PYTEST_XDIST_WORKER"] in ("gw0", "gw1")

def test_fails():
    assert 1 == 2

@pytest.mark.timeout(1)
def test_hangs():
    time.sleep(30)

def test_output_is_the_tests_own(capfd):
    print("mine")
    time.sleep(0.2)  # the other worker prints meanwhile
    assert capfd.readouterr().out == "mine\\n"
'''

DYING = '''
import os

def test_dies():
    os._exit(3)

def test_after_1(): pass
def test_after_2(): pass
def test_after_3(): pass
'''


def run(tmp_path: Path, files: dict[str, str], *args: str) -> tuple[int, str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["forks"]\n', encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(TESTS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("DATABASE_URL", None)  # the tiny suite needs no database of its own
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "timeout", "-p", "no:cacheprovider", "-rA",
                           "--forks", "2", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def outcomes(output: str) -> dict[str, str]:
    """Each test's outcome from ``-rA``'s short summary."""
    return {match.group(2): match.group(1)
            for match in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", output, re.MULTILINE)}


def test_every_test_runs_once_and_a_failure_or_a_hang_fails_only_itself(tmp_path: Path) -> None:
    code, output = run(tmp_path, {"test_suite.py": SUITE})
    seen = outcomes(output)
    assert code == 1, output
    assert seen.pop("test_suite.py::test_fails") == "FAILED", output
    assert seen.pop("test_suite.py::test_hangs") == "FAILED", output
    assert "Timeout" in output
    assert seen == {**{f"test_suite.py::test_passes[{n}]": "PASSED" for n in range(12)},
                    "test_suite.py::test_output_is_the_tests_own": "PASSED"}, output
    assert "2 failed, 13 passed" in output


def test_a_worker_that_dies_fails_its_test_and_the_other_runs_the_rest(tmp_path: Path) -> None:
    code, output = run(tmp_path, {"test_a_dying.py": DYING, "test_suite.py": SUITE}, "-k", "not hangs")
    seen = outcomes(output)
    assert code == 1, output
    assert seen.pop("test_a_dying.py::test_dies") == "FAILED", output
    assert re.search(r"worker gw\d died while running it", output), output
    assert seen.pop("test_suite.py::test_fails") == "FAILED", output
    assert set(seen.values()) == {"PASSED"}, output
    assert len(seen) == 3 + 12 + 1, output  # the dead worker's unit went to the other


def test_when_every_worker_dies_the_rest_is_reported_not_run(tmp_path: Path) -> None:
    dying = "import os\n" + "".join(f"def test_dies_{n}():\n    os._exit(3)\n\n" for n in range(4))
    code, output = run(tmp_path, {"test_a.py": dying, "test_b.py": dying}, "-p", "no:timeout")
    reasons = re.findall(r"^FAILED test_\w\.py::test_dies_\d - (.*)$", output, re.MULTILINE)
    assert code == 1, output
    assert len(reasons) == 8, output
    assert sorted(reason.split(" ", 2)[-1] for reason in reasons if reason.startswith("worker ")) == [
        "died while running it"] * 2, output  # one test each: both workers took a module and died in it
    assert reasons.count("no worker was left to run it") == 6, output


def test_a_workers_warning_reaches_the_runs_summary(tmp_path: Path) -> None:
    warns = ("import warnings\n\nwarnings.warn(UserWarning('once, at collection'))\n\n"
             "def test_warns():\n    warnings.warn(UserWarning('careful, from a worker'))\n")
    code, output = run(tmp_path, {"test_warns.py": warns, "test_suite.py": SUITE}, "-k", "warns or passes")
    assert code == 0, output
    summary = output.split("warnings summary", 1)[-1]
    assert "test_warns.py::test_warns" in summary and "UserWarning: careful, from a worker" in summary, output
    # the run's own warning (before the fork) is not sent back by each worker as well
    assert "13 passed, 3 deselected, 2 warnings" in output, output


def test_first_failure_stops_handing_out_work(tmp_path: Path) -> None:
    many = "".join(f"def test_{n}():\n    assert {n} != 3\n\n" for n in range(200))
    code, output = run(tmp_path, {"test_many.py": many}, "-x", "-p", "no:timeout")
    seen = outcomes(output)
    assert code == 1, output
    assert seen["test_many.py::test_3"] == "FAILED"
    assert len(seen) < 200 and "stopping after 1 failures" in output, output


def _item(nodeid: str, group: str | None = None) -> Any:
    marker = SimpleNamespace(args=(group,), kwargs={}) if group else None
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: marker if name == "xdist_group" else None)


def test_units_keep_a_group_whole_and_cut_modules_into_short_runs() -> None:
    items = ([_item(f"tests/a.py::t{n}") for n in range(UNIT + 2)] + [_item("tests/b.py::x", "chromium")]
             + [_item("tests/b.py::y")] + [_item("tests/c.py::z", "chromium")])
    assert units_of(items) == [list(range(UNIT)), [UNIT, UNIT + 1], [UNIT + 2, UNIT + 4], [UNIT + 3]]


@pytest.mark.parametrize("args", [("-n", "2"), ("--pdb",)])
def test_refuses_to_fork_with_xdist_or_pdb(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, output = run(tmp_path, {"test_suite.py": "def test_one(): pass\n"}, *args, "-p", "xdist")
    assert code == 4 and "--forks runs the tests in forked workers" in output, output
