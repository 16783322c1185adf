"""Process specs (immutable, one row per deployed version) and running instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import JSONType, UTCDateTime
from app.extensions import db


class ProcessSpec(db.Model):
    """One deployed version of a process: BPMN/DMN files, forms and the parsed spec.

    Never updated after insert; running instances pin the row they started on.
    """

    __tablename__ = "process_spec"
    __table_args__ = (sa.UniqueConstraint("process_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(100), index=True)
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    files: Mapped[dict[str, str]] = mapped_column(JSONType)
    """BPMN and DMN sources, file name -> XML text."""
    forms: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Form path (relative to ``forms/``) -> JSON Schema."""
    spec_json: Mapped[dict[str, Any]] = mapped_column(JSONType)
    user_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    deployed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<ProcessSpec {self.process_key} v{self.version}>"


class ProcessInstance(db.Model):
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
