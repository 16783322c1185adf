"""Keep the English catalog complete: ``python -m app.common.catalogs app/translations``.

Message ids are English, so every English entry's translation is its id; after ``pybabel update``
this copies ids into the empty English entries. Chinese entries are translated by people.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def fill_english(root: Path) -> int:
    po = root / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="en")
    filled = 0
    for message in catalog:
        if not message.id or message.string and (not isinstance(message.string, tuple) or all(message.string)):
            continue
        message.string = message.id if isinstance(message.id, str) else tuple(message.id)
        filled += 1
    with po.open("wb") as f:
        write_po(f, catalog, width=110, omit_header=False, no_location=True)
    return filled


if __name__ == "__main__":
    print(f"filled {fill_english(Path(sys.argv[1] if len(sys.argv) > 1 else 'app/translations'))} English entries")
