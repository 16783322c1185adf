"""The BPMN extension property names are declared once (``app/engine/properties.py``).

Python readers take them from there, and the designer's side panel gets them from the server: its inputs
are named after them and its script has none of them written in.
"""

from __future__ import annotations

import ast
import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from designer_helpers import four_in_one_demo

from app.engine import properties as P

ROOT = Path(__file__).resolve().parents[2]
NAMES = {P.FORM, P.UI_FORM, P.DEADLINE, P.INSTRUCTIONS, P.DEPARTMENT, P.ESCALATION}


@pytest.fixture
def demo(ctx: Any) -> dict[str, Any]:
    return four_in_one_demo()


def _reads_a_property_by_literal(tree: ast.AST) -> list[str]:
    """``props.get("deadline")``, ``task.properties["department"]`` and the like."""
    found = []
    for node in ast.walk(tree):
        target = key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            target, key = node.func.value, node.args[0]
        elif isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        if target is None or not isinstance(key, ast.Constant) or key.value not in NAMES:
            continue
        source = ast.unparse(target)
        if "prop" in source.lower():
            found.append(f"{source}[{key.value!r}] (line {node.lineno})")
    return found


def test_python_reads_property_names_from_the_one_module():
    offenders = {}
    for path in sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "workers").rglob("*.py")):
        if path == ROOT / "app" / "engine" / "properties.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _reads_a_property_by_literal(tree)
        found += [f"{n.value!r} (line {n.lineno})" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and n.value in (P.FORM, P.UI_FORM)]
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_the_checker_catches_a_literal_read():
    assert _reads_a_property_by_literal(ast.parse('d = task.properties.get("deadline")\nk = props["department"]'))


def test_the_designer_script_names_no_property():
    script = (ROOT / "app" / "designer" / "static" / "designer.js").read_text(encoding="utf-8")
    code = "\n".join(line.split("//", 1)[0] for line in script.splitlines())  # comments may name them
    written = {name for name in NAMES if re.search(rf"""["'.]{re.escape(name)}\b""", code)}
    assert written == set()


def test_the_side_panel_gets_the_names_from_the_server(page: Any):
    designer = page("designer")
    resp = designer.post("/designer/processes/four_in_one/edit")
    draft_id = int(re.search(r"/designer/drafts/(\d+)$", resp.headers["Location"]).group(1))  # type: ignore[union-attr]
    html = designer.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    setup = json.loads(html_lib.unescape(
        re.search(r'id="designer-setup">(.*?)</script>', html, re.S).group(1)))  # type: ignore[union-attr]
    assert setup["properties"] == list(P.SIDE_PANEL_PROPERTIES)
    assert setup["formProperty"] == P.FORM
    inputs = set(re.findall(r'id="prop-([^"]+)"', html))
    assert inputs == set(P.SIDE_PANEL_PROPERTIES)
