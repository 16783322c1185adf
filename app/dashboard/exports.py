"""CSV and XLSX of a dashboard table, exactly as shown; every export is audited."""

from __future__ import annotations

import csv
import io
from typing import Any

from .queries import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to Excel and WPS: a step name a process designer
wrote, or any stored text, must not become ``=HYPERLINK(...)`` or a DDE call on a coordinator's computer."""

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def csv_cell(value: object) -> object:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM, so Excel on a Chinese-locale Windows opens it with the right characters."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(label) for _, label in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(row.get(key)) for key, _ in table.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    # deferred: importing openpyxl costs every process that builds the app ~0.1 s of CPU, and only exports use it
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = table.key[:31]
    sheet.append([label for _, label in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([row.get(key) for key, _ in table.columns])
    for line in sheet.iter_rows():
        for cell in line:
            if cell.data_type == "f":  # openpyxl turns any text starting with "=" into a formula
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(table: Table, fmt: str) -> bytes:
    """The file for ``table`` in ``fmt``."""
    return to_csv(table) if fmt == "csv" else to_xlsx(table)


def export_detail(table: Table, fmt: str, filters: dict[str, object]) -> dict[str, Any]:
    """What an export's audit row records (which format, how many rows, which filters); the page or API
    that sends the file writes the row (``app.audit.operations``: reads are audited by the entry point)."""
    return {"format": fmt, "rows": len(table.rows), "filters": {k: str(v) for k, v in filters.items()}}
