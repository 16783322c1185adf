"""Tell the need-to-know rule (``app.cases.access``) which units have worked a case."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial

from app.cases.access import Basis, register_basis

from .queries import cases_of_unit, unit_had_task


def connect(*, steps_without_basis: Collection[str] = ()) -> None:
    """Called once by ``create_app``; registering again replaces the provider."""
    except_steps = frozenset(steps_without_basis)
    register_basis(Basis.UNIT, partial(unit_had_task, except_steps=except_steps),
                   partial(cases_of_unit, except_steps=except_steps))
