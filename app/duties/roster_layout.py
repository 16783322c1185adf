"""The county ledger of children (台账) as a civil affairs bureau keeps it in Excel: columns, words, files.

One layout for import and export, so an exported roster imports as "unchanged" row for row. Headers are
matched by their Chinese names (a few spellings each; a title row above the header is skipped), values by
the words the bureaus write (男/女, 是/否, 农村留守儿童, 孤儿 …).

Reading is python-calamine (Rust's calamine): 10,000 rows of 21 columns in 0.7 s where openpyxl's
read-only mode took 12.6 s on the same machine, which alone would have spent the minute a county's
import may take (dry run and import each read the file). It resolves no XML entities and fetches
nothing. Two limits are checked before it sees the file: its size and its unpacked size (an XLSX is a
zip: a few KB can unpack to gigabytes). Writing (the export) stays openpyxl, which the dashboard's
exports already use, in write-only mode.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

from app.cases.models import ChildTag
from app.common.inputs import unstorable


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    """The header must be in the file (a value may still be empty where the rules allow)."""


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("儿童姓名",), required=True),
    Column("sex", "性别", required=True),
    Column("id_number", "公民身份号码", ("身份证号", "身份证号码", "身份证件号码"), required=True),
    Column("birth_date", "出生日期", ("出生年月日",), required=True),
    Column("township", "乡镇（街道）", ("乡镇", "乡镇(街道)", "乡镇街道", "街道"), required=True),
    Column("village", "村（社区）", ("村", "村(社区)", "村（居）", "村居", "社区"), required=True),
    Column("category", "儿童类别", ("类别",), required=True),
    Column("sub_types", "困境儿童类型", ("困境类型", "困境儿童类别")),
    Column("guardian1_name", "监护人1姓名", ("监护人姓名",)),
    Column("guardian1_relation", "监护人1关系", ("监护人关系", "与儿童关系")),
    Column("guardian1_phone", "监护人1联系电话", ("监护人联系电话", "监护人电话")),
    Column("guardian1_away", "监护人1是否外出务工", ("监护人是否外出务工",)),
    Column("guardian2_name", "监护人2姓名"),
    Column("guardian2_relation", "监护人2关系"),
    Column("guardian2_phone", "监护人2联系电话", ("监护人2电话",)),
    Column("guardian2_away", "监护人2是否外出务工"),
    Column("caregiver_name", "委托照护人姓名", ("受委托照护人姓名", "委托监护人姓名")),
    Column("caregiver_relation", "委托照护人关系", ("受委托照护人关系", "委托监护人关系")),
    Column("caregiver_phone", "委托照护人联系电话", ("委托照护人电话",)),
    Column("caregiver_agreement", "委托协议签订日期", ("委托监护协议签订日期",)),
    Column("school", "就读学校", ("学校", "就读学校（幼儿园）")),
)
HEADERS = {c.key: c.header for c in COLUMNS}
GUARDIAN_SLOTS = ("guardian1", "guardian2")

CATEGORY_WORDS = {"农村留守儿童": "left_behind", "留守儿童": "left_behind", "困境儿童": "difficulty"}
CATEGORY_NAMES = {"left_behind": "农村留守儿童", "difficulty": "困境儿童"}
SUB_TYPE_NAMES = {
    ChildTag.ORPHAN: "孤儿", ChildTag.DE_FACTO_UNSUPPORTED: "事实无人抚养儿童", ChildTag.HIV: "艾滋病病毒感染儿童",
    ChildTag.SEVERELY_DISABLED: "重残儿童", ChildTag.SERIOUSLY_ILL: "重病儿童", ChildTag.LOW_INCOME: "低收入家庭儿童",
    ChildTag.HARMED_BY_GUARDIAN: "受监护人侵害儿童", ChildTag.STREET_CHILD: "流浪儿童",
    ChildTag.EMERGENCY_AFFECTED: "受突发事件影响儿童",
}
"""The sub-types of a child in difficulty (DOMAIN.md 1), as the ledger names them; the export writes these."""
SUB_TYPE_WORDS = {**{v: k.value for k, v in SUB_TYPE_NAMES.items()},
                  "孤残儿童": ChildTag.ORPHAN.value, "事实无人抚养": ChildTag.DE_FACTO_UNSUPPORTED.value,
                  "艾滋病感染儿童": ChildTag.HIV.value, "重度残疾儿童": ChildTag.SEVERELY_DISABLED.value,
                  "重残": ChildTag.SEVERELY_DISABLED.value, "重病": ChildTag.SERIOUSLY_ILL.value,
                  "低保家庭儿童": ChildTag.LOW_INCOME.value, "建档立卡贫困家庭儿童": ChildTag.LOW_INCOME.value,
                  "流浪": ChildTag.STREET_CHILD.value, "受意外伤害儿童": ChildTag.EMERGENCY_AFFECTED.value}
RELATION_NAMES = {"father": "父亲", "mother": "母亲", "grandfather": "祖父", "grandmother": "祖母",
                  "grandparent": "祖父母", "other": "其他"}
RELATION_WORDS = {**{v: k for k, v in RELATION_NAMES.items()}, "爸爸": "father", "妈妈": "mother",
                  "爷爷": "grandfather", "外公": "grandfather", "外祖父": "grandfather", "奶奶": "grandmother",
                  "外婆": "grandmother", "外祖母": "grandmother", "外祖父母": "grandparent"}
NON_RELATIVES = {"邻居", "朋友", "老师", "村干部", "非亲属", "其他"}
"""Entrusted caregivers who are no relative: they need a written agreement (004 三（一）1 委托监护协议)."""
SEX_WORDS = {"男": "male", "女": "female", "male": "male", "female": "female"}
SEX_NAMES = {"male": "男", "female": "女"}
YES = {"是", "y", "yes", "1", "true", "√"}
NO = {"否", "n", "no", "0", "false", ""}
SEPARATORS = re.compile(r"[、,，;；/／\s]+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE = "儿童信息台账"


class LayoutError(ValueError):
    """The file as a whole cannot be read as a ledger (not an XLSX, too big, a required column missing)."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


def _clean_header(value: Any) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"[\s*＊]", "", text).replace("(", "（").replace(")", "）")


_LOOKUP = {_clean_header(name): c.key for c in COLUMNS for name in (c.header, *c.aliases)}


def _check_zip(data: bytes, max_unpacked: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise LayoutError("not an XLSX file", {"file": ["not an Excel workbook (.xlsx)"]}) from exc
    if "[Content_Types].xml" not in names:
        raise LayoutError("not an XLSX file", {"file": ["not an Excel workbook (.xlsx)"]})
    if unpacked > max_unpacked:
        raise LayoutError("the workbook unpacks too large", {"file": [f"unpacks to more than {max_unpacked} bytes"]})


def read_rows(data: bytes, *, max_bytes: int, max_rows: int) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The ledger's columns (keys) and its rows as ``(excel row number, {key: raw value})``.

    The header is the first of the first ten rows that names at least three known columns. Missing
    required columns, an unreadable file and too many rows are :class:`LayoutError` (the whole file is
    refused); everything about a single row is left to the checks.
    """
    if len(data) > max_bytes:
        raise LayoutError("the file is too large", {"file": [f"larger than {max_bytes} bytes"]})
    _check_zip(data, max_bytes * 10)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = book.get_sheet_by_index(0)
        rows = iter(sheet.iter_rows())
    except Exception as exc:  # calamine raises its own errors for a damaged workbook
        raise LayoutError("the workbook cannot be read", {"file": [f"cannot be read: {type(exc).__name__}"]}) from exc
    header_at, keys = 0, []
    for number, row in enumerate(rows, 1):
        found = [_LOOKUP.get(_clean_header(v), "") for v in row]
        if sum(1 for k in found if k) >= 3:
            header_at, keys = number, found
            break
        if number >= 10:
            break
    missing = [c.header for c in COLUMNS if c.required and c.key not in keys]
    if not header_at or missing:
        raise LayoutError("required columns are missing",
                          {"columns": [f"missing: {'、'.join(missing or [c.header for c in COLUMNS if c.required])}"]})
    repeated = sorted({k for k in keys if k and keys.count(k) > 1})
    if repeated:
        raise LayoutError("a column appears twice", {"columns": [f"twice: {'、'.join(HEADERS[k] for k in repeated)}"]})
    if (sheet.height or 0) - header_at > max_rows:
        raise LayoutError("too many rows", {"file": [f"more than {max_rows} rows"]})

    def body() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for number, row in enumerate(rows, header_at + 1):
                values = {k: v for k, v in zip(keys, row, strict=False) if k}
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values.values()):
                    continue
                _storable(number, values)
                yield number, values
        except LayoutError:
            raise
        except (CalamineError, XmlError, ZipError, PasswordError, ValueError) as exc:  # damaged past the header
            raise LayoutError("the workbook cannot be read", {"file": [f"cannot be read: {type(exc).__name__}"]}) from exc

    return [k for k in keys if k], body()


def _storable(number: int, values: dict[str, Any]) -> None:
    """Refuse the file for a cell no column can hold: XLSX escapes control characters as ``_xHHHH_`` and
    calamine unescapes them, so ``_x0000_`` arrives as a NUL (PostgreSQL refuses it: the import failed)."""
    for key, value in values.items():
        if isinstance(value, str) and (why := unstorable(value)):
            raise LayoutError("a cell holds a character no text can hold",
                              {"file": [f"row {number}, {HEADERS.get(key, key)}: {why}"]})


def text(value: Any) -> str:
    """A cell as text: numbers without ``.0``, dates as ISO, everything stripped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_date(value: Any) -> date | None:
    """A date cell or the ways ledgers write one (2015-06-01, 2015/6/1, 2015.6.1, 20150601, 2015年6月1日)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(value)
    if not raw:
        return None
    match = _DATE.fullmatch(raw) or _COMPACT_DATE.fullmatch(raw)
    if not match:
        raise ValueError(raw)
    return date(int(match[1]), int(match[2]), int(match[3]))


def words(value: Any) -> list[str]:
    return [w for w in SEPARATORS.split(text(value)) if w]


def _cell(sheet: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell  # deferred: openpyxl is the exports' alone (see write_xlsx)

    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # stored text, never a formula on the bureau's computer
    return cell


def write_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The ledger in the import layout: one header row, then one row per child (text cells for ID numbers)."""
    # deferred: importing openpyxl costs every process that builds the app ~0.1 s of CPU, and only exports use it
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    sheet.append([c.header for c in COLUMNS])
    for row in rows:
        sheet.append([_cell(sheet, row.get(c.key, "")) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
