"""Both catalogs are complete for the web layer's text, and pages follow the chosen language."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import check_and_call_extract_file
from babel.messages.pofile import read_po

from app.common.i18n import compile_catalogs
from app.common.labels import label

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "app" / "translations"
WEB_FILES = ("app/common/pages.py", "app/common/i18n.py", "app/common/labels.py", "app/tasks/form_render.py",
             "app/tasks/views.py", "app/cases/views.py", "app/org/views.py", "app/org/admin_views.py",
             "app/notifications/views.py", "app/conferences/views.py", "app/conferences/forms.py")
WEB_TEMPLATES = ("app/templates/", "app/org/templates/", "app/tasks/templates/", "app/cases/templates/",
                 "app/notifications/templates/", "app/conferences/templates/")
"""The web layer's files (issue 3) whose text must be in both catalogs; other modules run
``make translations`` for theirs (docs/web.md)."""


def _catalog(locale: str) -> Any:
    with (CATALOGS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


@functools.cache
def _source_ids() -> frozenset[Any]:
    """The message ids of the web layer's files, extracted once per process (both locales compare with
    them). Only those files are read: walking the whole checkout (node_modules, test-output, every
    module of app) and dropping the rest took 5 s per locale. Each file still goes through the same method
    map, so what matches is what ``extract_from_dir`` over the tree matched."""
    ids: set[Any] = set()
    method_map = [("app/**/templates/**.html", "jinja2"), ("app/**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    templates = [path for folder in WEB_TEMPLATES for path in sorted((ROOT / folder).rglob("*")) if path.is_file()]
    for path in [ROOT / name for name in WEB_FILES] + templates:
        for filename, _, message, _, _ in check_and_call_extract_file(
                path.as_posix(), method_map, {}, None, keywords, (), False, dirpath=str(ROOT)):
            if filename in WEB_FILES or filename.startswith(WEB_TEMPLATES):
                ids.add(message if isinstance(message, str) else tuple(message))
    return frozenset(ids)


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_catalog_is_complete_and_covers_the_web_layer(locale: str) -> None:
    catalog = _catalog(locale)
    untranslated = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []
    known = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}
    assert sorted(map(str, _source_ids() - known)) == []


def test_compiled_catalogs_exist_and_recompile_only_when_changed() -> None:
    compile_catalogs()
    assert (CATALOGS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").exists()
    assert compile_catalogs() == []


def test_labels_follow_the_request_language(app: Any) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert label("situation", "living_alone") == "Living alone without guardianship"
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert label("situation", "living_alone") == "脱离监护单独居住生活"
        assert label("situation", "unknown_code") == "unknown_code"
