"""The shapes of a mainland phone number, as regular expressions: the people import checks
rows with them, intake and notifications normalise and route numbers with them."""

from __future__ import annotations

# An 11-digit mobile: 1, then 3-9, then nine digits.
MOBILE = r"1[3-9]\d{9}"
# A landline: area code, number, optional extension (020-83001234-12).
LANDLINE = r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?"
