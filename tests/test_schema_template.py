"""The kept schema template (tests/schema_template.py) is found again only while what builds it is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schema_template


@pytest.fixture
def migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's migrations and of the ``app`` modules they import, under a root of its own."""
    shutil.copytree(schema_template.MIGRATIONS, tmp_path / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("app/cases/identity.py", "app/common/sealed.py"):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema_template.ROOT / module, tmp_path / module)
    monkeypatch.setattr(schema_template, "ROOT", tmp_path)
    monkeypatch.setattr(schema_template, "MIGRATIONS", tmp_path / "migrations")
    return tmp_path


def test_the_digest_is_the_projects_own(migrations: Path) -> None:
    assert schema_template.digest() == schema_template.digest()
    assert len(schema_template.digest()) == 16


@pytest.mark.parametrize("changed", ["migrations/env.py", "migrations/versions/{first}", "app/cases/identity.py",
                                     "app/common/sealed.py", "migrations/versions/new_revision.py"])
def test_a_changed_migration_or_what_it_imports_makes_a_new_template(migrations: Path, changed: str) -> None:
    before = schema_template.digest()
    first = sorted((migrations / "migrations" / "versions").glob("*.py"))[0].name
    path = migrations / changed.format(first=first)
    path.write_text((path.read_text(encoding="utf-8") if path.exists() else "") + "\n# changed\n", encoding="utf-8")
    assert schema_template.digest() != before


def test_the_templates_name_says_where_it_lives(tmp_path: Path) -> None:
    assert schema_template.template_url("postgresql://u@h:5432/test", "ab12") == "postgresql://u@h:5432/test_schema_ab12"
    sqlite = schema_template.template_url(None, "ab12")
    assert sqlite.startswith("sqlite:///") and sqlite.endswith("test-output/schema/ab12.db")
    assert not schema_template.exists(f"sqlite:///{tmp_path / 'none.db'}")


def test_a_template_gone_meanwhile_leaves_the_worker_an_empty_database_to_migrate(tmp_path: Path) -> None:
    from parallel import copy_template

    target = tmp_path / "worker.db"
    target.write_bytes(b"half a copy")
    assert not copy_template(f"sqlite:///{tmp_path / 'gone.db'}", f"sqlite:///{target}")
    assert not target.exists()  # the app fixture migrates a new file, not what was there
    (tmp_path / "kept.db").write_bytes(b"SQLite format 3\x00")
    assert copy_template(f"sqlite:///{tmp_path / 'kept.db'}", f"sqlite:///{target}")
    assert target.read_bytes() == b"SQLite format 3\x00"


@pytest.mark.postgres
@pytest.mark.committing
def test_on_postgresql_a_missing_template_leaves_an_empty_database(tmp_path: Path) -> None:
    import os

    import sqlalchemy as sa
    from parallel import admin_engine, copy_template, drop_database

    url = sa.engine.make_url(os.environ["DATABASE_URL"])
    worker = url.set(database=f"{url.database}_tpl_test").render_as_string(hide_password=False)
    gone = url.set(database=f"{url.database}_schema_0000000000000000_gone").render_as_string(hide_password=False)
    try:
        assert not copy_template(gone, worker)
        engine = admin_engine(worker)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": f"{url.database}_tpl_test"}).first() is not None
        engine.dispose()
    finally:
        drop_database(worker)
