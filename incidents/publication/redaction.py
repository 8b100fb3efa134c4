"""Masking of personal data in free text before it is published: phone, ID and bank card
numbers, e-mail addresses, WeChat and QQ ids and licence plates, found in the text as
written (full-width and Chinese-numeral digits, spaces, dots and dashes too).

What is masked:
- mainland mobile numbers, 1[3-9]x and 8 more digits, contiguous or grouped 3-4-4, with
  an optional +86 / 0086 / 86 prefix -> PHONE_MASK;
- landlines with their area code, 0 and 2-3 digits (in brackets or not) then 7-8 digits
  grouped 3/4-4, with an optional extension (转 123, ext 123), or after +86 without the
  0 -> PHONE_MASK;
- ID numbers: 18 characters (17 digits and a digit or X, contiguous or grouped 6-8-4)
  and 15 digits -> ID_MASK; other runs of 16-19 digits (bank cards), also grouped by
  four -> NUMBER_MASK;
- e-mail addresses -> EMAIL_MASK; the id after 微信(号)/vx/wx/QQ(号) -> IM_MASK (the label
  stays); licence plates (粤A12345, 粤A·D12345, new-energy 粤AD12345) -> PLATE_MASK.
Digits may be written in Chinese numerals (一三八…, 〇/零, 幺, 两, 壹贰…) and grouped by
spaces, dashes or dots (138.1234.5678). A number counts only when no digit touches it.
Dates (2026-11-24, 20261124), times, tracking numbers (261124-XXXXXXXX), house numbers
(3栋2单元1501), 119/12345, 400 service numbers, local numbers without an area code, a bare
微信/QQ without an id and a province name without a plate are left alone; a 15-digit grid
cell code looks like an old ID number and is masked too (over-masking is the safe mistake). The
masks are bracketed Chinese markers, so a reader sees what was removed.
"""

from __future__ import annotations

import re

PHONE_MASK = "[电话已隐去]"
ID_MASK = "[证件号已隐去]"
NUMBER_MASK = "[号码已隐去]"
EMAIL_MASK = "[邮箱已隐去]"
IM_MASK = "[账号已隐去]"
PLATE_MASK = "[车牌已隐去]"

# Look-alikes mapped one character to one character, so positions found in the
# normalised text are positions in the original.
_NORMALISE = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # full-width digits
        # Chinese numerals as people write phone numbers out (一三八…, 幺 for 1, 两 for 2).
        **dict(zip("〇零一幺二两三四五六七八九", "0011223456789", strict=True)),
        **dict(zip("壹贰叁肆伍陆柒捌玖", "123456789", strict=True)),
        "＋": "+",
        "＠": "@",
        "：": ":",
        "．": ".",
        "·": ".",  # the middle dot of 粤A·D12345
        "・": ".",
        "•": ".",
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
_SEP = r"[ \-.]?"
_AREA = r"(?:10|2\d|[3-9]\d{2})"  # area codes without their leading 0
_LOCAL = rf"\d{{3,4}}{_SEP}\d{{4}}"
_EXTENSION = rf"(?:{_SEP}(?:转|分机|ext\.?|x){_SEP}\d{{1,6}})?"
# Alternatives are tried in this order at each position: the longer kinds first.
_PERSONAL_NUMBER = re.compile(
    rf"""(?<!\d)(?:
        (?P<id18>\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[\dXx](?![\dXx]))
      | (?P<card>\d{{16,19}}(?!\d))
      | (?P<card4>\d{{4}}(?:{_SEP}\d{{4}}){{3}}(?:{_SEP}\d{{1,3}})?(?!\d))
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
    "card4": NUMBER_MASK,
    "intl": PHONE_MASK,
    "mobile": PHONE_MASK,
    "landline": PHONE_MASK,
}


_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.ASCII
)
# The label (微信号：, vx, QQ号) stays; only the id after it is masked. The label may not be
# the tail of a longer Latin word (vxlan), and a bare label (加我微信, QQ音乐) is no id.
_IM_ID = re.compile(
    r"""(?:(?<![A-Za-z])(?:wechat|weixin|vx|wx|qq)|微信|威信|[vV]信|扣扣)
        \s*(?:号码?|id)?\s*(?:[:=是为]|\s)?\s*
        (?P<id>[A-Za-z0-9_\-]{5,20})(?![A-Za-z0-9_\-])""",
    re.VERBOSE | re.IGNORECASE,
)
# Province abbreviation, the issuing letter, an optional dot, then five characters (six
# for new-energy plates), at least one a digit; I and O are never used on plates.
_PLATE = re.compile(
    r"""[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]
        [A-HJ-NP-Z][ .]?
        (?=[A-HJ-NP-Z]*\d)(?:[A-HJ-NP-Z0-9]{5,6}|[A-HJ-NP-Z0-9]{4}[挂学警港澳])
        (?![A-Za-z0-9])""",
    re.VERBOSE | re.IGNORECASE,
)


def personal_numbers(value: str) -> list[tuple[int, int, str]]:
    """(start, end, mask) of each piece of personal data in the text, in order."""
    normal = value.translate(_NORMALISE)
    found = [
        (m.start(), m.end(), _MASKS[m.lastgroup or ""]) for m in _PERSONAL_NUMBER.finditer(normal)
    ]
    found += [(m.start(), m.end(), EMAIL_MASK) for m in _EMAIL.finditer(normal)]
    found += [(m.start("id"), m.end("id"), IM_MASK) for m in _IM_ID.finditer(normal)]
    found += [(m.start(), m.end(), PLATE_MASK) for m in _PLATE.finditer(normal)]
    # Where two finds overlap (a phone number inside an e-mail address), the one that
    # starts first and reaches furthest wins; numbers win ties (listed first).
    chosen: list[tuple[int, int, str]] = []
    for start, end, mask in sorted(found, key=lambda f: (f[0], -f[1])):
        if not chosen or start >= chosen[-1][1]:
            chosen.append((start, end, mask))
    return chosen


def redact(value: str) -> str:
    """The text with its personal data replaced by masks."""
    parts, last = [], 0
    for start, end, mask in personal_numbers(value):
        parts += [value[last:start], mask]
        last = end
    return "".join(parts) + value[last:]
