"""Normal forms of what identifies a child: ID numbers, names and phone numbers, as compared.

Pure functions with no database: the models keep the normal forms in their own columns
(``Child.id_number_norm``, ``Guardian.phone_digits``) and ``app.cases.matching`` compares them. A
county's ledger and its hotline desk write the same number in several ways (full-width digits from a
Chinese input method, spaces every few digits, a lower-case check letter, the 15-digit numbers issued
before 1999); all of them must meet on one file.
"""

from __future__ import annotations

import re
import unicodedata

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SEPARATORS = re.compile(r"[\s\-_./·]+")


def check_digit(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalise_id_number(value: str | None) -> str | None:
    """The form ID numbers are compared in, or None for an empty one.

    NFKC (full-width digits become ASCII), separators dropped, ``x`` upper-cased; a 15-digit number of
    the first generation is widened to 18 (``19`` inserted before the year, the check digit computed), as
    the issuing rules define, so the old and new numbers of one person meet. Anything else is kept as
    typed (upper-cased): a number that is not valid is still the same string on a second report.
    """
    if value is None:
        return None
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    if not text:
        return None
    if len(text) == 15 and text.isdigit():
        widened = text[:6] + "19" + text[6:]
        return widened + check_digit(widened)
    return text


def id_number_valid(norm: str | None) -> bool:
    """An 18-character number whose check digit is right (a ledger import reports the others row by row)."""
    if norm is None or len(norm) != 18 or not norm[:17].isdigit():
        return False
    return check_digit(norm[:17]) == norm[17]


def normalise_name(value: str | None) -> str:
    """Names compare after NFKC and without whitespace (``李 小明`` is ``李小明``); the middle dot of
    minority names is kept."""
    if not value:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


def phone_digits(value: str | None) -> str:
    """Only the digits (``138-0000 0001`` and ``+86 13800000001`` meet at ``13800000001``): a leading
    country code 86 on an 11-digit mobile number is dropped."""
    digits = "".join(c for c in unicodedata.normalize("NFKC", value or "") if c.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits
