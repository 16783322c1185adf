"""Who may change processes: admins grant and revoke the process-designer role (audited).

The admin pages (``app/org/admin_views.py``) set roles too; this is the same
change for API clients and the CLI, limited to the one role the designer needs.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.audit.operations import audit
from app.common.errors import Forbidden
from app.extensions import db
from app.org.models import User, UserRole
from app.org.roles import Role


def require_designer(user: User | None) -> User:
    """Only process designers change processes (admins grant the role; they do not deploy themselves)."""
    if user is None or not user.has_role(Role.PROCESS_DESIGNER):
        raise Forbidden("only process designers may change or deploy processes")
    return user


def require_admin(actor: User | None) -> None:
    if actor is None or not actor.has_role(Role.ADMIN):
        raise Forbidden("only administrators manage process designers")


def designers() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == Role.PROCESS_DESIGNER.value).order_by(User.username)))


def set_designer(user: User, on: bool, actor: User | None) -> bool:
    """Grant (``on``) or revoke the role; returns whether anything changed. ``actor`` None is the CLI."""
    if actor is not None:
        require_admin(actor)
    has = user.has_role(Role.PROCESS_DESIGNER)
    if has == on:
        return False
    if on:
        user.role_rows.append(UserRole(role=Role.PROCESS_DESIGNER.value))
    else:
        user.role_rows = [r for r in user.role_rows if r.role != Role.PROCESS_DESIGNER.value]
    audit(actor.id if actor else None, "role_grant" if on else "role_revoke", "user", user.id,
          detail={"username": user.username, "role": Role.PROCESS_DESIGNER.value})
    db.session.flush()
    return True
