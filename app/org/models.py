"""Regions (county > township > village), units, users, roles and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import JSONType, UTCDateTime
from app.extensions import Model

from .roles import Role


class Region(Model):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    level: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def ancestry(self) -> list[Region]:
        """This region and every region above it, nearest first."""
        chain: list[Region] = []
        node: Region | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class Unit(Model):
    """A department kind in a region: "X township police station", "county civil affairs bureau"."""

    __tablename__ = "unit"
    __table_args__ = (sa.UniqueConstraint("kind", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name}>"


class User(UserMixin, Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"))
    """Jurisdiction of a child director / supervisor / coordinator (village / township / county)."""
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(sa.String(10), default="zh_CN")
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_frequency: Mapped[str] = mapped_column(sa.String(16), default="immediate", server_default="immediate")
    """immediate (one mail per notification), daily (a digest on working-day mornings), never."""
    notify_channels: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """Where each kind of notification goes besides the app, and quiet hours (``app.notifications.channels``,
    ``Preferences``); NULL: email only, as ``email_frequency`` says."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    """Raised to end every browser session of the user at its next request (app/org/sessions.py)."""

    unit: Mapped[Unit | None] = relationship()
    region: Mapped[Region | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[Role]:
        return {Role(r.role) for r in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserRole(Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class ApiToken(Model):
    """A bearer token for integrations; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))
    """revoked (by hand), password_reset, deactivated, access_changed, rotated (a service account's secret)."""
    scopes: Mapped[str | None] = mapped_column(sa.String(400))
    """A service account's token: the scopes it carries, space-separated (RFC 6749 3.3). NULL for a person's
    token, which their roles alone limit (``app/common/scopes.py``)."""

    user: Mapped[User] = relationship()


class CountySetting(Model):
    """A county's own value of a setting that counties may override (``org.county_settings.OVERRIDABLE``).

    The environment variable gives every county's value; a row here replaces it for one county's cases, as a
    county's own process version, calendar day or ladder does (``kinds.EVERY_COUNTY`` is the variable itself).
    """

    __tablename__ = "county_setting"

    county: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    """The county's region code."""
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Absence(Model):
    """A period a liaison or unit head is away (leave, training) and who stands in for them.

    While it lasts (``starts_at`` <= now < ``ends_at``) the person's claimed tasks are with the substitute and
    notes meant for them go to the substitute, or to their unit's head when no substitute is named
    (``app.org.absence``: the one rule every sender uses). ``on_return``: at the end the tasks go back
    (``return``) or stay with the substitute (``stay``). Rows are kept as the record of who stood in when.
    """

    __tablename__ = "absence"
    __table_args__ = (sa.Index("ix_absence_period", "ends_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))
    """The person's unit when the absence was set: the substitute is a member of it."""
    substitute_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    on_return: Mapped[str] = mapped_column(sa.String(8), default="return")
    """``return``: the tasks handed over go back at the end; ``stay``: they stay with the substitute."""
    set_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the claimed tasks were handed to the substitute (the start's hand-over ran)."""
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the end's hand-over ran (tasks returned or kept); the absence is then closed."""
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Ended early (or withdrawn before it began): ``ends_at`` is then the moment it was cancelled."""

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute: Mapped[User | None] = relationship(foreign_keys=[substitute_id])


class ServiceAccount(Model):
    """A machine client (the 12355 hotline's call system, a school's system) with client credentials.

    It acts through a user row of its own (``user_id``: no password, the unit it acts for), so every audit
    row and every need-to-know decision about its calls names the account, never a person. Only the
    SHA-256 of its secret is stored; the secret is shown once, at creation and at each rotation.
    """

    __tablename__ = "service_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    client_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.String(400))
    """Space-separated, sorted; what its tokens may carry."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
