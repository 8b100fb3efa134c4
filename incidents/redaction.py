"""Masking of personal numbers in free text before it is published: phone, ID and bank
card numbers, found in the text as written (full-width digits, spaces and dashes too).

What is masked:
- mainland mobile numbers, 1[3-9]x and 8 more digits, contiguous or grouped 3-4-4, with
  an optional +86 / 0086 / 86 prefix -> PHONE_MASK;
- landlines with their area code, 0 and 2-3 digits (in brackets or not) then 7-8 digits
  grouped 3/4-4, with an optional extension (转 123, ext 123), or after +86 without the
  0 -> PHONE_MASK;
- ID numbers: 18 characters (17 digits and a digit or X, contiguous or grouped 6-8-4)
  and 15 digits -> ID_MASK; other runs of 16-19 digits (bank cards) -> NUMBER_MASK.
A number counts only when no digit touches it. Dates (2026-11-24, 20261124), times,
tracking numbers (261124-XXXXXXXX), house numbers (3栋2单元1501), 119/12345, 400 service
numbers and local numbers without an area code are left alone; a 15-digit grid cell code
looks like an old ID number and is masked too (over-masking is the safe mistake). The
masks are bracketed Chinese markers, so a reader sees what was removed.
"""

from __future__ import annotations

import re

PHONE_MASK = "[电话已隐去]"
ID_MASK = "[证件号已隐去]"
NUMBER_MASK = "[号码已隐去]"

# Look-alikes mapped one character to one character, so positions found in the
# normalised text are positions in the original.
_NORMALISE = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # full-width digits
        "＋": "+",
        "－": "-",
        "（": "(",
        "）": ")",
        "Ｘ": "X",
        "ｘ": "x",
        "\u3000": " ",
        "\u00a0": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\ufe63": "-",
    }
)
_SEP = r"[ \-]?"
_AREA = r"(?:10|2\d|[3-9]\d{2})"  # area codes without their leading 0
_LOCAL = rf"\d{{3,4}}{_SEP}\d{{4}}"
_EXTENSION = rf"(?:{_SEP}(?:转|分机|ext\.?|x){_SEP}\d{{1,6}})?"
# Alternatives are tried in this order at each position: the longer kinds first.
_PERSONAL_NUMBER = re.compile(
    rf"""(?<!\d)(?:
        (?P<id18>\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[\dXx](?![\dXx]))
      | (?P<card>\d{{16,19}}(?!\d))
      | (?P<intl>\(?(?:\+|00)86\)?{_SEP}\(?0?{_AREA}\)?{_SEP}{_LOCAL}{_EXTENSION}(?!\d))
      | (?P<mobile>(?:\(?(?:\+|00)?86\)?{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d))
      | (?P<landline>(?:\(0{_AREA}\)|0{_AREA}){_SEP}{_LOCAL}{_EXTENSION}(?!\d))
      | (?P<id15>\d{{15}}(?!\d))
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_MASKS = {
    "id18": ID_MASK,
    "id15": ID_MASK,
    "card": NUMBER_MASK,
    "intl": PHONE_MASK,
    "mobile": PHONE_MASK,
    "landline": PHONE_MASK,
}


def personal_numbers(value: str) -> list[tuple[int, int, str]]:
    """(start, end, mask) of each phone, ID or card number in the text."""
    return [
        (m.start(), m.end(), _MASKS[m.lastgroup or ""])
        for m in _PERSONAL_NUMBER.finditer(value.translate(_NORMALISE))
    ]


def redact(value: str) -> str:
    """The text with phone, ID and card numbers replaced by their masks."""
    parts, last = [], 0
    for start, end, mask in personal_numbers(value):
        parts += [value[last:start], mask]
        last = end
    return "".join(parts) + value[last:]
