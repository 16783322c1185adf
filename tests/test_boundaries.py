"""House rules that keep the codebase honest: the engine boundary and schema-by-migration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
IMPORT = re.compile(r"^\s*(from|import)\s+SpiffWorkflow\b", re.M)


def test_only_app_engine_imports_spiffworkflow() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for folder in ("app", "workers") for p in (ROOT / folder).rglob("*.py")
        if IMPORT.search(p.read_text(encoding="utf-8")) and "engine" not in p.relative_to(ROOT).parts[:2]
    ]
    assert offenders == []


def test_migrations_build_exactly_the_models_schema(ctx: Any) -> None:
    """The test database was built by ``flask db upgrade``; it must match the models."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_openapi_document_lists_the_endpoints(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/reports", "/api/v1/tasks", "/api/v1/tasks/{task_id}/claim",
                 "/api/v1/tasks/{task_id}/complete", "/api/v1/cases/{case_id}"):
        assert path in doc["paths"], path
    assert "bearerAuth" in doc["components"]["securitySchemes"]


def test_home_page_lists_deployed_processes_and_health_answers(client: Any, demo: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "四位一体" in page.get_data(as_text=True)
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/no-such-page").status_code == 404
