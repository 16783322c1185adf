"""Department kinds by name, in the reader's language (a Jinja global too, registered by ``create_app``)."""

from __future__ import annotations

from flask_babel import get_locale

from .kinds import DEPARTMENT_KINDS


def department_name(kind: str | None) -> str:
    found = DEPARTMENT_KINDS.get(kind or "")
    if found is None:
        return kind or ""
    return found.name_en if str(get_locale()) == "en" else found.name_zh
