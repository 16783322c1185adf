"""A database error logged on a 500 must not carry the statement's values (a child's name, a narrative)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db


def test_database_errors_hide_the_statement_values(ctx: Any) -> None:
    secret = "李秘密-narrative"
    with pytest.raises(sa.exc.DBAPIError) as caught:
        db.session.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": secret})
    db.session.rollback()
    assert secret not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
