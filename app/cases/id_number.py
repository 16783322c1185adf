"""What a resident ID number (公民身份号码, GB 11643-1999) says: its birth date and sex.

Digits 7-14 are the birth date and digit 17 the sex (odd: male, even: female), so a ledger row whose birth
date or sex disagrees with its ID number has a typing error in one of them. Normal form and check digit are
``app.cases.identity`` (the one place ID numbers are compared).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .identity import check_digit, normalise_id_number


class BadIdNumber(ValueError):
    """Why an ID number cannot be right: ``code`` is ``format``, ``checksum`` or ``birth_date``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IdNumber:
    value: str
    """The normal form (``identity.normalise_id_number``): 18 characters."""
    birth_date: date
    sex: str
    """``male`` or ``female``."""


def parse(raw: str) -> IdNumber:
    """The ID number's birth date and sex, or :class:`BadIdNumber` (a 15-digit number is widened first)."""
    value = normalise_id_number(raw) or ""
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise BadIdNumber("format", "an ID number has 17 digits and a last digit or X")
    if check_digit(value[:17]) != value[17]:
        raise BadIdNumber("checksum", "the last character does not match the other 17 (checksum)")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise BadIdNumber("birth_date", "digits 7-14 are not a date") from exc
    return IdNumber(value, born, "male" if int(value[16]) % 2 else "female")


def make(area: str, born: date, serial: int, sex: str) -> str:
    """A well-formed ID number (demo data, tests, the bench): ``area`` 6 digits, ``serial`` 0-99."""
    digit = (serial % 50) * 2 + (1 if sex == "male" else 0)
    first17 = f"{area}{born:%Y%m%d}{serial % 100:02d}{digit % 10}"
    return first17 + check_digit(first17)
