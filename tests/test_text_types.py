"""The one rule for client text (core.text_types): prose keeps line breaks and tabs,
single-line text keeps none, no control character is ever stored, and a field's length
limit still reads as characters on the optional spellings."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.text_types import PlainText, PlainTextOrNone, SingleLineText, SingleLineTextOrNone


class _Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    note: PlainText = Field("-", max_length=10)
    comment: PlainTextOrNone = Field(None, max_length=10)
    name: SingleLineText = Field("-", max_length=10)
    nickname: SingleLineTextOrNone = Field(None, max_length=10)


def _refusal(**fields: str) -> tuple[str, str]:
    with pytest.raises(ValidationError) as refused:
        _Form(**fields)
    error = refused.value.errors()[0]
    return str(error["loc"][0]), error["msg"]


def test_prose_keeps_line_breaks_and_tabs():
    form = _Form(note="a\nb\tc\r\n", comment="x\ny")
    assert form.note == "a\nb\tc" and form.comment == "x\ny"


@pytest.mark.parametrize("field", ["note", "comment", "name", "nickname"])
def test_a_nul_or_an_escape_is_refused_naming_the_field(field):
    for bad in ("a\x00b", "a\x1bb"):
        name, reason = _refusal(**{field: bad})
        assert name == field and "control characters" in reason


@pytest.mark.parametrize("field", ["name", "nickname"])
def test_single_line_text_refuses_a_line_break_or_a_tab(field):
    for bad in ("a\nb", "a\tb"):
        assert _refusal(**{field: bad}) == (
            field,
            "Value error, contains line breaks or control characters",
        )


@pytest.mark.parametrize("field", ["note", "comment", "name", "nickname"])
def test_the_length_limit_counts_characters(field):
    assert _refusal(**{field: "x" * 11}) == (field, "String should have at most 10 characters")


def test_none_stays_none_on_the_optional_spellings():
    form = _Form(comment=None, nickname=None)
    assert form.comment is None and form.nickname is None
