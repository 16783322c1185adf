#!/usr/bin/env python
"""How long a hostile BPMN takes to be read or refused: namespace declarations and attributes.

    .venv/bin/python bench/xml_bounds.py

Prints parse / describe / validate seconds for a small process with N ``xmlns`` declarations on the root and
N prefixed attributes on one task (the shape that made saving quadratic), and with 190 declarations and
N attributes. Numbers are printed, never asserted (tests/processes/test_xml_bounds.py asserts the refusal).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app, engine  # noqa: E402

MINI = (ROOT / "tests" / "data" / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def _bundle(declarations: int, attributes: int) -> str:
    decls = " ".join(f'xmlns:n{i}="urn:x:{i}"' for i in range(declarations))
    attrs = " ".join(f'n{i % declarations}:a{i}="v"' for i in range(attributes))
    return (MINI.replace("<bpmn:definitions ", f"<bpmn:definitions {decls} ", 1)
            .replace('<bpmn:userTask id="t1"', f'<bpmn:userTask {attrs} id="t1"'))


def _seconds(call: Any) -> str:
    started = time.perf_counter()
    result = call()
    errors = [str(m) for m in getattr(result, "errors", None) or getattr(result, "messages", [])
              if getattr(m, "level", "error") == "error"]
    outcome = f"refused: {errors[0][:70]}" if errors else "read"
    return f"{time.perf_counter() - started:7.3f}s {outcome}"


def main() -> None:
    app = create_app({"database_url": "sqlite:///:memory:", "testing": True, "redis_url": None,
                      "inline_loop": False, "secret_key": "bench"})
    from app.processes.validation import validate_bundle

    with app.app_context():
        for declarations, attributes in ((20, 20), (1000, 1000), (4000, 4000), (190, 20000)):
            xml = _bundle(declarations, attributes)
            print(f"xmlns {declarations:>5} attributes {attributes:>6} ({len(xml) // 1024} KiB)")
            print("  describe", _seconds(lambda x=xml: engine.describe_bundle({"mini.bpmn": x})))
            print("  validate", _seconds(lambda x=xml: validate_bundle({"mini.bpmn": x}, {"mini/t1.json": FORM})))


if __name__ == "__main__":
    main()
