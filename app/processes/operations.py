"""Deploy process bundles: validate everything, then store an immutable version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app import engine
from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS
from app.org.models import User
from app.tasks.deadlines import DeadlineSyntaxError, parse_deadline

from .models import ProcessSpec


class BundleRejected(Invalid):
    """A bundle that cannot be deployed; ``problems`` lists each message naming its element."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("process cannot be deployed: " + "; ".join(problems), {"bundle": problems})


def _safe_form_path(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and name.endswith(".json")


def check_platform_rules(parsed: engine.ParsedBundle, forms: dict[str, Any]) -> list[str]:
    """Rules the engine does not know: lanes are department kinds, forms exist, deadlines parse."""
    problems: list[str] = []
    for lane in parsed.lanes:
        if lane not in DEPARTMENT_KINDS:
            problems.append(f"lane {lane!r} names no department kind (known: {', '.join(sorted(DEPARTMENT_KINDS))})")
    checked_forms: set[str] = set()
    for task in parsed.user_tasks:
        where = f"{task.bpmn_id} ({task.name})"
        kind = task.properties.get("department") or task.lane
        if kind is None:
            problems.append(f"{where}: user task is in no lane and has no 'department' property")
        elif kind not in DEPARTMENT_KINDS and not kind.startswith("="):  # "=expr" is resolved per instance
            problems.append(f"{where}: department {kind!r} is not a department kind")
        form = task.properties.get("formJsonSchemaFilename")
        if form:
            if not _safe_form_path(form):
                problems.append(f"{where}: form path {form!r} must be a relative .json path inside forms/")
            elif form not in forms:
                problems.append(f"{where}: form {form!r} does not exist")
            elif form not in checked_forms:
                checked_forms.add(form)
                try:
                    Draft202012Validator.check_schema(forms[form])
                except SchemaError as exc:
                    problems.append(f"{where}: form {form!r} is not a valid JSON Schema: {exc.message}")
        deadline = task.properties.get("deadline")
        if deadline and not deadline.startswith("="):
            try:
                parse_deadline(deadline)
            except DeadlineSyntaxError as exc:
                problems.append(f"{where}: {exc}")
    return problems


def bundle_hash(files: dict[str, str], forms: dict[str, Any]) -> str:
    canonical = json.dumps({"files": files, "forms": forms}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def deploy(files: dict[str, str], forms: dict[str, Any], deployed_by: User | None = None,
           note: str = "") -> ProcessSpec:
    """Validate and store a new version; deploying identical content returns the existing version."""
    try:
        parsed = engine.parse_bundle(dict(files))
    except engine.BundleInvalid as exc:
        raise BundleRejected([str(m) for m in exc.messages]) from exc
    problems = check_platform_rules(parsed, forms)
    if problems:
        raise BundleRejected(problems)
    used_forms = {
        t.properties["formJsonSchemaFilename"]: forms[t.properties["formJsonSchemaFilename"]]
        for t in parsed.user_tasks if t.properties.get("formJsonSchemaFilename")
    }
    digest = bundle_hash(files, used_forms)
    existing = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.content_hash == digest))
    if existing is not None:
        return existing
    latest = db.session.scalar(
        sa.select(sa.func.max(ProcessSpec.version)).where(ProcessSpec.process_key == parsed.process_id))
    spec = ProcessSpec(
        process_key=parsed.process_id, version=(latest or 0) + 1, name=parsed.process_name,
        content_hash=digest, files=dict(files), forms=used_forms, spec_json=parsed.spec_json,
        user_tasks=[
            {"bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane, "properties": t.properties}
            for t in parsed.user_tasks
        ],
        deployed_by_id=deployed_by.id if deployed_by else None, deployed_at=now(), note=note,
    )
    db.session.add(spec)
    db.session.flush()
    return spec


def read_bundle_folder(folder: Path, forms_dir: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Read a shipped process folder (``bpmn/<name>/``) and every form under ``forms/``."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
             if p.suffix in (".bpmn", ".dmn")}
    forms: dict[str, Any] = {}
    for path in sorted(forms_dir.rglob("*.json")):
        rel = path.relative_to(forms_dir).as_posix()
        try:
            forms[rel] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BundleRejected([f"form {rel!r} is not valid JSON: {exc}"]) from exc
    return files, forms


def deploy_folder(folder: Path, forms_dir: Path, deployed_by: User | None = None, note: str = "") -> ProcessSpec:
    files, forms = read_bundle_folder(folder, forms_dir)
    return deploy(files, forms, deployed_by, note or f"deployed from {folder.name}")
