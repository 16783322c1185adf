"""Deploy process bundles: validate everything, then store an immutable version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.audit.operations import audit
from app.common.clock import now
from app.common.errors import WHOLE, Invalid
from app.extensions import db
from app.org.kinds import EVERY_COUNTY
from app.org.models import User
from app.org.queries import county_code

from .models import ProcessCurrent, ProcessSpec
from .queries import current_spec
from .validation import ValidationReport, validate_bundle


class BundleRejected(Invalid):
    """A bundle that cannot be deployed; ``problems`` lists each message naming its element."""

    def __init__(self, problems: list[str], messages: list[dict[str, Any]] | None = None):
        self.problems = problems
        super().__init__("process cannot be deployed: " + "; ".join(problems), {WHOLE: problems})
        if messages is not None:
            self.body = {"messages": messages}  # each names its element: beside the errors, not a field


def bundle_hash(files: dict[str, str], forms: dict[str, Any]) -> str:
    canonical = json.dumps({"files": files, "forms": forms}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def checked(files: dict[str, str], forms: dict[str, Any]) -> ValidationReport:
    """The validation report of a bundle that may be deployed; raises ``BundleRejected`` otherwise."""
    report = validate_bundle(files, forms)
    if not report.ok:
        errors = report.errors
        problems = [str(m) for m in errors] or ["the engine could not build a runnable process"]
        raise BundleRejected(problems, [m for m in report.as_dicts() if m["level"] == "error"])
    return report


def deploy(files: dict[str, str], forms: dict[str, Any], deployed_by: User | None = None,
           note: str = "", reinstate: bool = True, county: str = EVERY_COUNTY) -> ProcessSpec:
    """Validate and store a new version, which new cases then start on.

    Deploying content a version already has returns that version and, with ``reinstate``, makes it
    current again: redeploying the previous content undoes a bad deploy in one step. Only the forms the
    process names are stored with the version, so a version's content hash says exactly what its cases
    will see. With ``county`` (a county's region code) the version is current for that county's new cases
    only; every other county keeps starting on the deployment's.
    """
    county = county_code(county)
    report = checked(files, forms)
    parsed = report.parsed
    assert parsed is not None
    digest = bundle_hash(files, report.used_forms)
    existing = db.session.scalar(sa.select(ProcessSpec).where(ProcessSpec.content_hash == digest))
    if existing is not None:
        if reinstate:
            make_current(existing, deployed_by, note or "redeployed", county=county)
        return existing
    latest = db.session.scalar(
        sa.select(sa.func.max(ProcessSpec.version)).where(ProcessSpec.process_key == parsed.process_id))
    spec = ProcessSpec(
        process_key=parsed.process_id, version=(latest or 0) + 1, name=parsed.process_name,
        content_hash=digest, files=dict(files), forms=report.used_forms, spec_json=parsed.spec_json,
        user_tasks=[
            {"bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane, "properties": t.properties}
            for t in parsed.user_tasks
        ],
        deployed_by_id=deployed_by.id if deployed_by else None, deployed_at=now(), note=note,
    )
    db.session.add(spec)
    db.session.flush()
    audit(deployed_by.id if deployed_by else None, "process_deploy", "process_spec", spec.id,
          detail={"process_key": spec.process_key, "version": spec.version, "content_hash": digest, "note": note,
                  **({"county": county} if county != EVERY_COUNTY else {})})
    _point(spec, deployed_by, county)
    return spec


def _current_for(process_key: str, county: str) -> ProcessSpec | None:
    if county == EVERY_COUNTY:
        return current_spec(process_key)
    row = db.session.get(ProcessCurrent, (process_key, county))
    return db.session.get(ProcessSpec, row.spec_id) if row is not None else None


def _point(spec: ProcessSpec, by: User | None, county: str = EVERY_COUNTY) -> ProcessSpec | None:
    """Point ``spec``'s process (for ``county``) at it; the version it pointed at before (None if none or the same)."""
    row = db.session.get(ProcessCurrent, (spec.process_key, county))
    before = _current_for(spec.process_key, county) if row is None else db.session.get(ProcessSpec, row.spec_id)
    if row is None:
        row = ProcessCurrent(process_key=spec.process_key, county=county)
        db.session.add(row)
    row.spec_id, row.since, row.by_id = spec.id, now(), by.id if by else None
    db.session.flush()
    return before if before is not None and before.id != spec.id else None


def make_current(spec: ProcessSpec, by: User | None, note: str = "", county: str = EVERY_COUNTY) -> bool:
    """New cases start on ``spec`` from now on (running cases keep theirs); audited. False if it already was.

    With ``county``, only that county's new cases do (its own version, e.g. other deadlines)."""
    county = county_code(county)
    current = _current_for(spec.process_key, county)
    if current is not None and current.id == spec.id:
        return False
    before = _point(spec, by, county)
    audit(by.id if by else None, "process_make_current", "process_spec", spec.id,
          detail={"process_key": spec.process_key, "version": spec.version,
                  "previous_version": before.version if before else None, "note": note,
                  **({"county": county} if county != EVERY_COUNTY else {})})
    return True


def release_county(process_key: str, county: str, by: User | None, note: str = "") -> bool:
    """The county goes back to the deployment's version for new cases (audited); False if it had none of its own."""
    county = county_code(county)
    row = db.session.get(ProcessCurrent, (process_key, county)) if county != EVERY_COUNTY else None
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    audit(by.id if by else None, "process_release_county", "process_spec", row.spec_id,
          detail={"process_key": process_key, "county": county, "note": note})
    return True


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


def deploy_folder(folder: Path, forms_dir: Path, deployed_by: User | None = None, note: str = "",
                  reinstate: bool = True, county: str = EVERY_COUNTY) -> ProcessSpec:
    files, forms = read_bundle_folder(folder, forms_dir)
    return deploy(files, forms, deployed_by, note or f"deployed from {folder.name}", reinstate=reinstate,
                  county=county)
