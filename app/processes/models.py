"""Process specs (immutable, one row per deployed version) and running instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import JSONType, UTCDateTime
from app.extensions import Model
from app.org.kinds import EVERY_COUNTY


class ProcessSpec(Model):
    """One deployed version of a process: BPMN/DMN files, forms and the parsed spec.

    Never updated after insert; running instances pin the row they started on.
    The four content columns are deferred: together they are ~160 KB of JSON for
    four-in-one, and a step needs none of them once the parsed spec and the forms
    are cached per content hash (``engine.serialization``, ``queries.form_schema``).
    Queries that list versions and show their content ``undefer`` what they use.
    """

    __tablename__ = "process_spec"
    __table_args__ = (sa.UniqueConstraint("process_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(100), index=True)
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    files: Mapped[dict[str, str]] = mapped_column(JSONType, deferred=True)
    """BPMN and DMN sources, file name -> XML text."""
    forms: Mapped[dict[str, Any]] = mapped_column(JSONType, deferred=True)
    """Form path (relative to ``forms/``) -> JSON Schema."""
    spec_json: Mapped[dict[str, Any]] = mapped_column(JSONType, deferred=True)
    user_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, deferred=True)
    deployed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<ProcessSpec {self.process_key} v{self.version}>"


class ProcessCurrent(Model):
    """Which version of a process new cases start on: the last one deployed or made current.

    Versions are immutable, so "current" is a pointer beside them. Deploying content that an earlier
    version already has, or an explicit "make current", moves it back: a bad deploy is undone in one
    step (audited as ``process_make_current``). No row means the highest version (older databases).

    ``county`` is ``*`` for the deployment's pointer, or a county's region code for a version that county
    runs instead (its own deadlines, say); a county without its own row starts on the deployment's.
    """

    __tablename__ = "process_current"

    process_key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    county: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=EVERY_COUNTY,
                                        server_default=EVERY_COUNTY)
    spec_id: Mapped[int] = mapped_column(sa.ForeignKey("process_spec.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


class ProcessInstance(Model):
    """A running or finished instance; ``state`` is the engine state WITHOUT the spec.

    ``version`` is an optimistic lock: every save increments it, and a save from
    a stale read fails instead of overwriting someone else's step.
    """

    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    spec_id: Mapped[int] = mapped_column(sa.ForeignKey("process_spec.id"), index=True)
    state: Mapped[str] = mapped_column(sa.Text)
    serializer_version: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(16), default="running", index=True)
    end_event: Mapped[str | None] = mapped_column(sa.String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """The process data after the last step, for summaries (grade, help tier, ...)."""
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    spec: Mapped[ProcessSpec] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}



class ProcessDraft(Model):
    """A process being edited in the designer: BPMN/DMN files and forms, saved even when invalid.

    ``messages`` holds the validation result of the last save, so a designer can
    close the browser mid-edit and come back to the same list of problems.
    ``revision`` is an optimistic lock: two designers saving the same draft do
    not silently overwrite each other.
    """

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    files: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    forms: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    based_on_spec_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_spec.id"))
    deployed_spec_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_spec.id"))
    """The version this draft's content was last deployed as."""
    valid: Mapped[bool] = mapped_column(default=False)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revision: Mapped[int] = mapped_column(default=1)

    based_on: Mapped[ProcessSpec | None] = relationship(foreign_keys=[based_on_spec_id])
    deployed_spec: Mapped[ProcessSpec | None] = relationship(foreign_keys=[deployed_spec_id])

    __mapper_args__ = {"version_id_col": revision}


class SandboxRun(Model):
    """A test run of a draft: engine state only, never a case, task, timer or notification.

    The parsed spec and forms are copied in at start, so editing the draft
    mid-run does not change the run under the designer's feet.
    """

    __tablename__ = "sandbox_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(sa.ForeignKey("process_draft.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    spec_json: Mapped[dict[str, Any]] = mapped_column(JSONType)
    forms: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    start_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    path: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """Every step the engine took, in order: bpmn id, name, kind, lane, and who acted as which lane."""
    ready: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    timers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    clock_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The run's own "now": starts at the real time, moved forward only by the designer (timers fire on it)."""
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class InstanceMigration(Model):
    """One running instance moved to another version, with what is needed to move it back exactly."""

    __tablename__ = "instance_migration"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    from_spec_id: Mapped[int] = mapped_column(sa.ForeignKey("process_spec.id"))
    to_spec_id: Mapped[int] = mapped_column(sa.ForeignKey("process_spec.id"))
    previous_state: Mapped[str] = mapped_column(sa.Text)
    previous_serializer_version: Mapped[str] = mapped_column(sa.String(40))
    previous_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    previous_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """Open task rows' name, form and instructions before the move (restored by rollback)."""
    instance_version_after: Mapped[int] = mapped_column()
    """The instance's lock version right after the move: rollback refuses if the case moved on since."""
    migrated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    migrated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rolled_back_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    from_spec: Mapped[ProcessSpec] = relationship(foreign_keys=[from_spec_id])
    to_spec: Mapped[ProcessSpec] = relationship(foreign_keys=[to_spec_id])
