"""Property-based fuzzing of the REST API against its own OpenAPI document (issue 10, part 7).

Schemathesis reads ``/api/v1/openapi.json`` from the app in process (WSGI, no network) and sends
generated requests to every operation, once per role. Two properties must hold for every response:
no server error (5xx), and the response is one the document describes (status code, content type,
headers, body schema). A county's integrations are built from that document, so an undocumented
answer is a bug just as a 500 is.

The run is bounded and reproducible: examples per operation are capped, generation is deterministic
(``derandomize``) and the seed fixed, so CI gets the same requests every time. ``LIANDONG_FUZZ_EXAMPLES``
raises the cap for a longer run by hand. A summary per role (operations, cases, failures) is written to
``test-output/fuzz-summary.json``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from fuzz_county import ROLES
from hypothesis import strategies as st

# The county is seeded once (the ``fuzz`` dataset, tests/fuzz_county.py) and each role's run is rolled
# back to it; the six runs stay on one xdist worker, which writes the summary of all six.
# timeout: a role's run is a fixed number of requests, well under 300 s on a 2-core machine of its own; at load
# 9-26 (several suites at once) roles took longer and pytest-timeout's 300 s hang guard failed them.
pytestmark = [pytest.mark.fuzz, pytest.mark.dataset("fuzz"), pytest.mark.xdist_group("fuzz"), pytest.mark.timeout(900)]


MAX_EXAMPLES = int(os.environ.get("LIANDONG_FUZZ_EXAMPLES", "10"))
SEED = 20261129

OUTPUT = Path(__file__).resolve().parent.parent / "test-output" / "fuzz-summary.json"

_stats: dict[str, dict[str, Any]] = defaultdict(
    lambda: {"operations": set(), "cases": 0, "failures": set(), "statuses": defaultdict(set)})


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        # The run is bounded by examples, not time: on a busy 2-core machine one generated body took 47 s to
        # draw (load 10), and Hypothesis's timing check failed the run without a finding.
        "suppress-health-check": ["too_slow"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none", "no-shrink": True},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
        # Every built-in check runs, except the two that judge whether a request *should* have been
        # accepted: the document cannot say "unit_id or department_kind" or "a known process key", so
        # they flag correct 422s. The issue asks for no 5xx and no answer outside the document.
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
        },
    })


@pytest.fixture(params=list(ROLES))
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def seeded(demo: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[Any]]]:
    return demo["tokens"], demo["known"]


@pytest.fixture
def role_headers(seeded: tuple[dict[str, str], dict[str, list[Any]]], role: str) -> dict[str, str]:
    tokens = seeded[0]
    return {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}


@pytest.fixture
def api_schema(ctx: Flask, seeded: tuple[dict[str, str], dict[str, list[Any]]], role: str,
               request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32.5 reads and rewrites ``Node._nodeid``, which pytest 9.2 no longer has; giving the
    # node that attribute lets its lazy loader run (only its per-operation label in reports is lost).
    request.node._nodeid = request.node.nodeid
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", ctx, config=_config())
    known = seeded[1]

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        """A path names either what was generated or a real object, so the operation's own logic runs
        (and its 200 body is checked), not only the lookup that answers 404."""
        return st.fixed_dictionaries({
            name: st.sampled_from([value, *known[name]]) if name in known else st.just(value)
            for name, value in (path_parameters or {}).items()})

    return schema


@pytest.fixture(scope="module", autouse=True)
def _summary(pytestconfig: pytest.Config) -> Iterator[None]:
    """Counts per role, in ``test-output/fuzz-summary.json`` and one line each in the test output."""
    yield
    OUTPUT.parent.mkdir(exist_ok=True)
    summary = {
        role: {"operations": len(s["operations"]), "cases": s["cases"], "failures": len(s["failures"]),
               "found": sorted(" ".join(f) for f in s["failures"]),
               "statuses": {op: sorted(codes) for op, codes in sorted(s["statuses"].items())}}
        for role, s in _stats.items()
    }
    OUTPUT.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    lines = [f"fuzz {role}: {c['operations']} operations, {c['cases']} cases, {c['failures']} failures"
             for role, c in summary.items()]
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + "\n".join(lines))


_addresses = itertools.count(1)


def _next_address() -> str:
    n = next(_addresses)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_conforms_to_its_document(case: Any, role: str, role_headers: dict[str, str]) -> None:
    """No 5xx, and every answer is one the document describes: status, content type, headers, body."""
    stats = _stats[role]
    stats["operations"].add(case.operation.label)
    stats["cases"] += 1
    # Each request from its own address: refused tokens are throttled per address (429), which would
    # otherwise answer everything after the first few dozen anonymous probes (tests/org for the throttle).
    sender = {"environ_base": {"REMOTE_ADDR": _next_address()}}
    try:
        response = case.call(headers=role_headers, **sender)
        stats["statuses"][case.operation.label].add(response.status_code)
        case.validate_response(response, headers=role_headers, transport_kwargs=sender)
    except BaseExceptionGroup as group:
        for failure in group.exceptions:
            title = str(getattr(failure, "title", failure))
            stats["failures"].add((case.operation.label, getattr(failure, "code", "?"), title))
        raise
    except Exception as exc:
        stats["failures"].add((case.operation.label, type(exc).__name__, str(exc)[:200]))
        raise
