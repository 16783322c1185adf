"""File attachments on a task (photos, scanned warnings, medical certificates).

Stored outside ``static/``: under ``<instance>/attachments/`` with random names, never the
uploaded name; the type is decided from the extension AND the file's first bytes (a ``.pdf``
must start like a PDF), never from the browser's Content-Type. Files are served only through
the access-checked, audited download view, as ``attachment`` with ``nosniff``.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from flask import current_app

from app.audit.operations import audit
from app.cases.models import Case
from app.cases.timeline import record
from app.common import idempotency
from app.common.clock import now
from app.common.errors import Invalid, NotFound
from app.extensions import db
from app.org.models import User

from .models import MAX_NAME, Attachment, Task
from .operations import ensure_can_act


@dataclass(frozen=True)
class FileType:
    content_type: str
    magic: tuple[bytes, ...]
    """Accepted first bytes; empty means "decodes as UTF-8 text"."""


FILE_TYPES: dict[str, FileType] = {
    "pdf": FileType("application/pdf", (b"%PDF-",)),
    "jpg": FileType("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": FileType("image/jpeg", (b"\xff\xd8\xff",)),
    "png": FileType("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "docx": FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "txt": FileType("text/plain; charset=utf-8", ()),
}


def storage_dir() -> Path:
    return Path(current_app.config["LIANDONG"].instance_dir) / "attachments"


def max_bytes() -> int:
    return int(current_app.config["LIANDONG"].attachment_max_bytes)


def _clean_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip().replace("\x00", "")
    return base[-MAX_NAME:] or "file"


def _sniff(ext: str, head: bytes, content: bytes) -> bool:
    kind = FILE_TYPES[ext]
    if kind.magic:
        return any(head.startswith(m) for m in kind.magic)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def add_attachment(task: Task, user: User, filename: str, stream: IO[bytes]) -> Attachment:
    """Check the size and type, store under a random name, record it. Flushes.

    The file is written before the row is flushed; if the transaction later rolls back an
    orphan file may remain, which is harmless (nothing points at it, its name is unguessable).
    """
    ensure_can_act(user, task)
    name = _clean_name(filename or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = ", ".join(sorted(FILE_TYPES))
    if ext not in FILE_TYPES:
        raise Invalid("file type not allowed", {"file": [f"allowed types: {allowed}"]}, location="files")
    limit = max_bytes()
    content = stream.read(limit + 1)
    if not content:
        raise Invalid("empty file", {"file": ["the file is empty"]}, location="files")
    if len(content) > limit:
        raise Invalid("file too large", {"file": [f"at most {limit // (1024 * 1024)} MB"]}, location="files")
    if not _sniff(ext, content[:16], content):
        raise Invalid("file content does not match its type", {"file": [f"this is not a valid .{ext} file"]}, location="files")
    stored = secrets.token_hex(20)
    folder = storage_dir() / stored[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(content)
    attachment = Attachment(
        task_id=task.id, case_id=task.case_id, uploaded_by_id=user.id, original_name=name, stored_name=stored,
        content_type=FILE_TYPES[ext].content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), created_at=now(),
    )
    db.session.add(attachment)
    db.session.flush()
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "attachment_added", f"{task.name}: {name}", actor=user, task=task,
           detail={"attachment_id": attachment.id})
    audit(user.id, "upload", "attachment", attachment.id, case_id=task.case_id,
          detail={"task_id": task.id, "name": name, "size": len(content)})
    return attachment


def attachments_of(*, task_id: int | None = None, case_id: int | None = None) -> list[Attachment]:
    stmt = sa.select(Attachment).order_by(Attachment.created_at, Attachment.id)
    if task_id is not None:
        stmt = stmt.where(Attachment.task_id == task_id)
    if case_id is not None:
        stmt = stmt.where(Attachment.case_id == case_id)
    return list(db.session.scalars(stmt))


UPLOAD_SCOPE = "attachment_upload"


def take_upload_key(task: Task, user: User, key: str, filename: str, content: bytes) -> Attachment | None:
    """Claim an upload's idempotency key: None when this request stores the file (then ``settle_upload_key``),
    else the attachment the first request with this key stored. The key is bound to the task, the name and
    the bytes: the same key with another file is 422. Malformed keys are 422 too (a key is 8-80 characters)."""
    low, high = idempotency.KEY_LENGTH
    if not low <= len(key) <= high:
        raise Invalid("bad idempotency key", {"idempotency_key": [f"{low} to {high} characters"]})
    ensure_can_act(user, task)
    request = {"task": task.id, "name": filename, "sha256": hashlib.sha256(content).hexdigest()}
    first = idempotency.take(UPLOAD_SCOPE, key, user.id, request)
    return get_attachment(first) if first is not None else None


def settle_upload_key(key: str, attachment: Attachment) -> None:
    idempotency.settle(UPLOAD_SCOPE, key, attachment.id)


def upload_once(task: Task, user: User, filename: str, stream: IO[bytes], key: str | None) -> tuple[Attachment, bool]:
    """``add_attachment`` under an idempotency key: (attachment, True) the first time, (the first upload,
    False) for a retry of the same key with the same file (a phone whose answer was lost)."""
    if not key:
        return add_attachment(task, user, filename, stream), True
    content = stream.read(max_bytes() + 1)
    first = take_upload_key(task, user, key, filename, content)
    if first is not None:
        return first, False
    attachment = add_attachment(task, user, filename, io.BytesIO(content))
    settle_upload_key(key, attachment)
    return attachment, True


def own_attachments(task: Task, user: User, ids: tuple[int, ...] | list[int]) -> list[Attachment]:
    """The files a completion names: each must be ``user``'s upload on this task (422 otherwise), so a
    submission cannot claim someone else's photo or one of another case. No statement when there are none."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = list(db.session.scalars(sa.select(Attachment).where(
        Attachment.id.in_(wanted), Attachment.task_id == task.id, Attachment.uploaded_by_id == user.id)
        .order_by(Attachment.id)))
    if len(found) != len(wanted):
        missing = sorted(set(wanted) - {a.id for a in found})
        raise Invalid("attachments not yours on this task", {"attachment_ids": [f"not your files on this task: {missing}"]})
    return found


def get_attachment(attachment_id: int) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"attachment {attachment_id} not found")
    return attachment


def path_of(attachment: Attachment) -> Path:
    path = storage_dir() / attachment.stored_name[:2] / attachment.stored_name
    if not path.is_file():
        raise NotFound("the file is missing from storage")
    return path
