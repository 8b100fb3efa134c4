"""Phone numbers as people write them, normalised: the one home for every channel that
takes a caller's number (Open311, 12345 orders)."""

from __future__ import annotations

import re
import unicodedata

from grid.phone_patterns import LANDLINE, MOBILE

# Separators people write between groups: spaces, dashes, dots, slashes and brackets
# around the area code ((020) 8300-1234, 020.8300.1234).
_SEPARATORS = re.compile(r"[\s().\-/]")
_COUNTRY = re.compile(rf"^(?:\+86|0086|86)(?=(?:{MOBILE})$|0?[1-9]\d{{8,10}}$)")
# Area codes of three digits: 010 (Beijing) and 02X; the rest have four.
_SHORT_AREA = re.compile(r"^0(?:10|2\d)")
_EXTENSION = re.compile(r"(?:转|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)
# Anything else with a country code: E.164, 8 to 15 digits after the +.
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_phone(text: str) -> str | None:
    """A mainland mobile (11 digits, +86 dropped), a landline as area-number[-extension]
    (020-83001234), or an international number as +digits; None when it is none of
    these."""
    value = unicodedata.normalize("NFKC", text).strip()
    extension = None
    if found := _EXTENSION.search(value):
        extension, value = found.group(1), value[: found.start()]
    # 0755-12345678-123: a last group after a full landline is its extension.
    if extension is None and (found := re.fullmatch(r"(0[\d\s().\-]*)-(\d{1,6})", value)):
        base = _SEPARATORS.sub("", found.group(1))
        if re.fullmatch(r"0\d{9,11}", base):
            extension, value = found.group(2), found.group(1)
    digits = _SEPARATORS.sub("", value)
    if not re.fullmatch(r"\+?\d+", digits):
        return None
    national = _COUNTRY.sub("", digits)
    if re.fullmatch(MOBILE, national) and extension is None:
        return national
    if not national.startswith("0") and digits.startswith(("+86", "0086", "86")):
        national = "0" + national  # +86 20 8300 1234: the area code without its 0
    if national.startswith("0"):
        area = 3 if _SHORT_AREA.match(national) else 4
        landline = f"{national[:area]}-{national[area:]}"
        if extension is not None:
            landline += f"-{extension}"
        if re.fullmatch(LANDLINE, landline):
            return landline
        return None
    if extension is None and _INTERNATIONAL.fullmatch(digits):
        return digits
    return None
