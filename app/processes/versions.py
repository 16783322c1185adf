"""Version history and the diff between two versions (or a draft and the version it came from).

The diff compares parsed elements, not XML text: moving a shape in the diagram
is not a change; renaming a step, moving it to another lane, changing its
deadline, condition, script, timer or form is. Elements are matched by id, as
the engine matches them when a running case moves to a new version.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from app import engine
from app.common.errors import NotFound
from app.extensions import db
from app.org.models import User

from .models import ProcessInstance, ProcessSpec
from .queries import county_versions, current_spec


def versions_of(process_key: str) -> list[ProcessSpec]:
    """Every version with its files and forms (the history lists their names)."""
    return list(db.session.scalars(
        sa.select(ProcessSpec).options(undefer(ProcessSpec.files), undefer(ProcessSpec.forms))
        .where(ProcessSpec.process_key == process_key).order_by(ProcessSpec.version)))


def get_version(process_key: str, version: int) -> ProcessSpec:
    spec = db.session.scalar(sa.select(ProcessSpec).where(
        ProcessSpec.process_key == process_key, ProcessSpec.version == version))
    if spec is None:
        raise NotFound(f"process {process_key!r} has no version {version}")
    return spec


def history(process_key: str) -> list[dict[str, Any]]:
    """Every version, newest first, with who deployed it, why, how many cases run on it, and which one
    new cases start on (``current``; not always the highest after a redeploy or "make current"), and
    the counties that run it instead of the deployment's (``counties``)."""
    specs = versions_of(process_key)
    if not specs:
        raise NotFound(f"no process {process_key!r}")
    running: dict[int, int] = {spec_id: count for spec_id, count in db.session.execute(
        sa.select(ProcessInstance.spec_id, sa.func.count()).where(
            ProcessInstance.spec_id.in_([s.id for s in specs]), ProcessInstance.status == "running")
        .group_by(ProcessInstance.spec_id))}
    users = {u.id: u for u in db.session.scalars(
        sa.select(User).where(User.id.in_([s.deployed_by_id for s in specs if s.deployed_by_id])))}
    latest = specs[-1].id
    current = current_spec(process_key)
    own = county_versions(process_key)
    return [{
        "id": s.id, "process_key": s.process_key, "version": s.version, "name": s.name,
        "content_hash": s.content_hash, "deployed_at": s.deployed_at, "note": s.note,
        "deployed_by": users[s.deployed_by_id].username if s.deployed_by_id in users else None,
        "running_instances": running.get(s.id, 0), "latest": s.id == latest,
        "current": current is not None and s.id == current.id,
        "counties": sorted(code for code, spec_id in own.items() if spec_id == s.id),
        "files": sorted(s.files), "forms": sorted(s.forms),
    } for s in reversed(specs)]


def elements_of(files: dict[str, str]) -> list[dict[str, Any]]:
    """Every element with its lane and properties: what the side panel and the version page show."""
    return [{"id": e.id, "type": e.type, "name": e.name, "file": e.file, "process_id": e.process_id,
             "lane": e.lane, "properties": e.properties, "details": e.details}
            for e in engine.describe_bundle(dict(files)).elements]


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "(root)": json.dumps(value, ensure_ascii=False, sort_keys=True)}


def _changes(before: dict[str, str], after: dict[str, str]) -> list[dict[str, Any]]:
    keys = sorted(set(before) | set(after))
    return [{"property": k, "before": before.get(k), "after": after.get(k)}
            for k in keys if before.get(k) != after.get(k)]


def _summary(e: engine.ElementInfo) -> dict[str, Any]:
    return {"id": e.id, "type": e.type, "name": e.name, "lane": e.lane}


def diff_bundles(files_a: dict[str, str], forms_a: dict[str, Any],
                 files_b: dict[str, str], forms_b: dict[str, Any]) -> dict[str, Any]:
    """Elements and forms added, removed and changed from bundle A to bundle B."""
    model_a = engine.describe_bundle(dict(files_a))
    model_b = engine.describe_bundle(dict(files_b))
    a = {e.id: e for e in model_a.elements}
    b = {e.id: e for e in model_b.elements}
    changed = []
    for element_id in [i for i in a if i in b]:
        delta = _changes(a[element_id].details, b[element_id].details)
        if delta:
            changed.append({**_summary(b[element_id]), "changes": delta})
    processes_a = {p.id: p for p in model_a.processes}
    processes_b = {p.id: p for p in model_b.processes}
    for pid in processes_a.keys() & processes_b.keys():
        pa, pb = processes_a[pid], processes_b[pid]
        delta = _changes({"name": pa.name or "", "executable": str(pa.executable)},
                         {"name": pb.name or "", "executable": str(pb.executable)})
        if delta:
            changed.append({"id": pid, "type": "process", "name": pb.name, "lane": None, "changes": delta})
    forms_changed = []
    for path in sorted(forms_a.keys() & forms_b.keys()):
        delta = _changes(_flatten(forms_a[path]), _flatten(forms_b[path]))
        if delta:
            forms_changed.append({"path": path, "changes": delta})
    return {
        "elements": {
            "added": [_summary(b[i]) for i in b if i not in a],
            "removed": [_summary(a[i]) for i in a if i not in b],
            "changed": changed,
        },
        "forms": {
            "added": sorted(forms_b.keys() - forms_a.keys()),
            "removed": sorted(forms_a.keys() - forms_b.keys()),
            "changed": forms_changed,
        },
        "files": {
            "added": sorted(files_b.keys() - files_a.keys()),
            "removed": sorted(files_a.keys() - files_b.keys()),
        },
    }


def diff_versions(old: ProcessSpec, new: ProcessSpec) -> dict[str, Any]:
    result = diff_bundles(old.files, old.forms, new.files, new.forms)
    result["from"] = {"id": old.id, "version": old.version, "content_hash": old.content_hash}
    result["to"] = {"id": new.id, "version": new.version, "content_hash": new.content_hash}
    return result
