"""The layering contract (tools/layering.py) on a small package built here: what it refuses, and how it says so."""

from __future__ import annotations

import textwrap
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

from tools.layering import DeferredImportsContract, RoleLayersContract, Violation

ROOT = Path(__file__).resolve().parent.parent

LAYERS = ["feature_a | feature_b", "mid", "low", "base : util"]
ENTRY = ["pkg", "pkg.*.views", "pkg.*.api", "pkg.*.*_views"]


def _package(root: Path, files: dict[str, str]) -> None:
    for name, source in {"pkg/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                (root / parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(source).lstrip())


def _violations(root: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> list[Violation]:
    _package(root, files)
    monkeypatch.syspath_prepend(str(root))
    graph = grimp.build_graph("pkg", cache_dir=None)
    contract = RoleLayersContract(
        "layers", {}, {"container": "pkg", "layers": LAYERS, "entry_points": ENTRY}
    )
    check = contract.check(graph, verbose=False)
    violations: list[Violation] = check.metadata["violations"]
    assert check.kept == (not violations)
    return violations


def test_downward_imports_and_entry_points_importing_anything_are_kept(tmp_path, monkeypatch):
    violations = _violations(
        tmp_path,
        monkeypatch,
        {
            "pkg/base/types.py": "X = 1\n",
            "pkg/util/text.py": "from pkg.base.types import X\n",
            "pkg/base/more.py": "from pkg.base import types\n",
            "pkg/low/models.py": "from pkg.base.types import X\n",
            "pkg/mid/ops.py": "from pkg.low.models import X\n",
            "pkg/feature_a/ops.py": "from pkg.mid.ops import X\n",
            # a low package's view is an entry point: it may import a feature module
            "pkg/low/views.py": "from pkg.feature_a.ops import X\nfrom pkg.feature_b import api\n",
            "pkg/feature_b/api.py": "from pkg.low.views import X\n",
        },
    )
    assert violations == []


def test_an_upward_import_is_named_with_its_line(tmp_path, monkeypatch):
    violations = _violations(
        tmp_path,
        monkeypatch,
        {
            "pkg/low/models.py": "import os\n\n\ndef f():\n    from pkg.mid.ops import Y\n    return Y\n",
            "pkg/mid/ops.py": "Y = 2\n",
        },
    )
    assert [(v.importer, v.imported, v.line_number) for v in violations] == [
        ("pkg.low.models", "pkg.mid.ops", 5)
    ]
    assert violations[0].line_contents == "from pkg.mid.ops import Y"
    assert "'low' may not import 'mid': it is in a higher layer" in violations[0].render()
    assert "pkg.low.models -> pkg.mid.ops (l.5: from pkg.mid.ops import Y)" in violations[0].render()


def test_independent_siblings_and_entry_modules_of_other_packages_are_refused(tmp_path, monkeypatch):
    violations = _violations(
        tmp_path,
        monkeypatch,
        {
            "pkg/feature_a/ops.py": "from pkg.feature_b.ops import Z\n",
            "pkg/feature_b/ops.py": "Z = 3\n",
            "pkg/low/models.py": "from pkg.mid.page_views import W\n",
            "pkg/mid/page_views.py": "W = 4\n",
        },
    )
    reasons = {(v.importer, v.imported): v.reason for v in violations}
    assert "independent siblings" in reasons[("pkg.feature_a.ops", "pkg.feature_b.ops")]
    assert "entry module of 'mid'" in reasons[("pkg.low.models", "pkg.mid.page_views")]


def test_a_cycle_between_siblings_that_may_import_each_other_is_refused(tmp_path, monkeypatch):
    violations = _violations(
        tmp_path,
        monkeypatch,
        {
            "pkg/base/types.py": "from pkg.util.text import T\n",
            "pkg/util/text.py": "T = 5\n",
            "pkg/util/more.py": "from pkg.base.types import T\n",
        },
    )
    assert {(v.importer, v.imported) for v in violations} == {
        ("pkg.base.types", "pkg.util.text"),
        ("pkg.util.more", "pkg.base.types"),
    }
    assert all("package cycle" in v.reason for v in violations)


def test_a_package_without_a_layer_is_refused(tmp_path, monkeypatch):
    violations = _violations(
        tmp_path, monkeypatch, {"pkg/stray/ops.py": "V = 6\n", "pkg/low/models.py": "from pkg.stray.ops import V\n"}
    )
    assert [v.imported for v in violations] == ["pkg.stray.ops"]
    assert "has no layer" in violations[0].reason


def test_function_level_imports_need_a_reason(tmp_path, monkeypatch):
    _package(
        tmp_path,
        {
            "pkg/low/models.py": """
                import json


                def plain():
                    import os  # not ours: fine
                    from pkg.base import types
                    return types, os, json


                def explained():
                    # deferred: the factory imports the whole app only when an app is made
                    from pkg.mid import ops
                    from pkg.mid import views
                    from pkg.low import more  # deferred: a reason of its own

                    from . import other
                    return ops, views, more, other
            """,
        },
    )
    monkeypatch.chdir(tmp_path)
    contract = DeferredImportsContract("deferred", {}, {"source_roots": ["pkg"], "packages": ["pkg"]})
    check = contract.check(grimp.ImportGraph(), verbose=False)
    assert not check.kept
    assert check.metadata["found"] == [
        "pkg/low/models.py:6: from pkg.base import types",
        "pkg/low/models.py:16: from . import other",
    ]


def test_the_project_keeps_its_contracts(monkeypatch, capsys):
    """What `make lint` runs: no import breaks the layers, every deferred import says why."""
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Contracts: 2 kept, 0 broken." in out
