"""Every table lives in its package's ``models.py``, and ``create_app`` finds them without a hand list."""

from __future__ import annotations

import sys
from pathlib import Path

import app as app_package
from app import _register_models
from app.extensions import db


def test_every_mapped_class_is_defined_in_its_packages_models_module(app):
    defined_in = {mapper.class_.__name__: mapper.class_.__module__ for mapper in db.Model.registry.mappers}
    elsewhere = {name: module for name, module in defined_in.items()
                 if not (module.startswith("app.") and module.endswith(".models") and module.count(".") == 2)}
    assert "AuditEvent" in defined_in and "Escalation" in defined_in  # the registry is the app's
    assert elsewhere == {}


def test_every_table_belongs_to_a_mapped_class(app):
    mapped = {mapper.local_table.name for mapper in db.Model.registry.mappers}
    assert set(db.metadata.tables) == mapped


def test_a_package_with_a_models_module_is_registered_without_being_listed(tmp_path: Path, monkeypatch):
    probe = tmp_path / "zz_probe"
    probe.mkdir()
    (probe / "__init__.py").write_text('"""A package the app has never heard of."""\n')
    (probe / "models.py").write_text("LOADED = True\n")
    (tmp_path / "zz_plain").mkdir()
    (tmp_path / "zz_plain" / "__init__.py").write_text("")
    monkeypatch.setattr(app_package, "__path__", [*app_package.__path__, str(tmp_path)])
    for name in ("app.zz_probe", "app.zz_probe.models", "app.zz_plain"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    try:
        _register_models()

        assert sys.modules["app.zz_probe.models"].LOADED is True
        assert "app.zz_plain" in sys.modules and "app.zz_plain.models" not in sys.modules
    finally:
        for name in ("app.zz_probe", "app.zz_probe.models", "app.zz_plain"):
            sys.modules.pop(name, None)
